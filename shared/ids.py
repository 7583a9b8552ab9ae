"""Resource-id helpers. ARM ids are case-insensitive; every comparison goes through here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

_SUB = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_RG = re.compile(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)", re.IGNORECASE)

# Strict shapes for ids that become write scopes. A name segment is never "." or ".." (HTTP
# clients normalise dot segments, which would move a PUT to another scope) and holds none of
# / ? # % \ or whitespace.
_GUID_SEG = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_NAME_SEG = r"(?!\.{1,2}(?:/|$))[^/?#%\\\s]+"
_SHAPES = {
    "subscription": rf"/subscriptions/{_GUID_SEG}",
    "resource-group": rf"/subscriptions/{_GUID_SEG}/resourceGroups/{_NAME_SEG}",
    "cluster": rf"/subscriptions/{_GUID_SEG}/resourceGroups/{_NAME_SEG}"
    rf"/providers/Microsoft\.ContainerService/managedClusters/{_NAME_SEG}",
    "storage-account": rf"/subscriptions/{_GUID_SEG}/resourceGroups/{_NAME_SEG}"
    rf"/providers/Microsoft\.Storage/storageAccounts/{_NAME_SEG}",
    "backup-vault": rf"/subscriptions/{_GUID_SEG}/resourceGroups/{_NAME_SEG}"
    rf"/providers/Microsoft\.DataProtection/backupVaults/{_NAME_SEG}",
}
_SHAPE_RES = {kind: re.compile(rf"^{pattern}$", re.IGNORECASE) for kind, pattern in _SHAPES.items()}


def is_clean(resource_id: str | None) -> bool:
    """A subscription-rooted id whose every segment is a real name (no blanks, dots or whitespace)."""
    if not resource_id or not resource_id.startswith("/subscriptions/"):
        return False
    segments = resource_id.rstrip("/").split("/")[1:]
    return (
        len(segments) >= 2
        and all(
            seg and seg == seg.strip() and seg not in (".", "..") and not any(c.isspace() for c in seg)
            for seg in segments
        )
        and _SHAPE_RES["subscription"].match("/" + "/".join(segments[:2])) is not None
    )


@lru_cache(maxsize=65536)
def is_shaped(value: str | None, kind: str) -> bool:
    """True when ``value`` is exactly a ``kind`` id (see ``_SHAPES``): no dot segments, no extras."""
    return bool(value) and _SHAPE_RES[kind].match(value or "") is not None


@lru_cache(maxsize=65536)
def shape_of(value: str | None) -> str | None:
    """The strict kind of ``value`` (``subscription``, ``resource-group``, ``cluster``...), or None."""
    for kind, pattern in _SHAPE_RES.items():
        if value and pattern.match(value):
            return kind
    return None


@lru_cache(maxsize=65536)
def normalize(resource_id: str) -> str:
    """Lower-cased, trailing slash removed, exactly one leading slash: the comparison form.
    Cached: a scan compares the same few thousand ids hundreds of thousands of times."""
    rid = resource_id.strip().rstrip("/")
    if not rid.startswith("/"):
        rid = "/" + rid
    return rid.lower()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and normalize(a) == normalize(b)


@lru_cache(maxsize=65536)
def subscription_of(resource_id: str) -> str:
    """The subscription id of a resource id (lower-cased); ``ValueError`` for a non-ARM id."""
    match = _SUB.match(resource_id.strip())
    if not match or any(seg in (".", "..") for seg in resource_id.strip().split("/")):
        raise ValueError(f"not an ARM resource id: {resource_id!r}")
    return match.group(1).lower()


def resource_group_of(resource_id: str) -> str | None:
    match = _RG.match(resource_id.strip())
    return match.group(1) if match else None


def resource_group_id(resource_id: str) -> str | None:
    """``/subscriptions/{s}/resourceGroups/{rg}`` of a resource id, or None above group level."""
    rg = resource_group_of(resource_id)
    if rg is None:
        return None
    return f"/subscriptions/{subscription_of(resource_id)}/resourceGroups/{rg}"


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def is_at_or_above(ancestor: str, scope: str) -> bool:
    """True when ``ancestor`` is ``scope`` or one of its parent scopes ("/" is above all)."""
    a, s = normalize(ancestor), normalize(scope)
    if a == "/":
        return True
    return s == a or s.startswith(a + "/")


MANAGEMENT_GROUP_PREFIX = "/providers/microsoft.management/managementgroups/"


def is_above_subscriptions(scope: str) -> bool:
    """True for the root scope ``/`` and management-group scopes: the scopes above every
    subscription. ARM lists assignments at such scopes in a subscription's listing only when they
    apply to it, so they count as ancestors of everything in that subscription."""
    normalized = normalize(scope)
    return normalized == "/" or normalized.startswith(MANAGEMENT_GROUP_PREFIX)


def is_inherited_by(scope: str, resource_id: str) -> bool:
    """``scope`` governs ``resource_id``: it is the resource, one of its parents, a management
    group or the root (for assignments read from the resource's own subscription listing)."""
    return is_above_subscriptions(scope) or is_at_or_above(scope, resource_id)


def role_guid(role_definition_id: str) -> str:
    """The GUID at the end of either roleDefinitionId form, lower-cased."""
    return name_of(role_definition_id).lower()


def tag(tags: Mapping[str, str] | None, name: str) -> str | None:
    """A tag value by case-insensitive name (ARM tag names are case-insensitive)."""
    if not tags:
        return None
    lowered = name.lower()
    for key, value in tags.items():
        if key.lower() == lowered:
            return value
    return None
