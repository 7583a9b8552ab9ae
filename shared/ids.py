"""Resource-id helpers. ARM ids are case-insensitive; every comparison goes through here."""

from __future__ import annotations

import re
from collections.abc import Mapping

_SUB = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_RG = re.compile(r"^/subscriptions/[^/]+/resourcegroups/([^/]+)", re.IGNORECASE)


def normalize(resource_id: str) -> str:
    """Lower-cased, trailing slash removed, exactly one leading slash: the comparison form."""
    rid = resource_id.strip().rstrip("/")
    if not rid.startswith("/"):
        rid = "/" + rid
    return rid.lower()


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and normalize(a) == normalize(b)


def subscription_of(resource_id: str) -> str:
    """The subscription id of a resource id (lower-cased); ``ValueError`` for a non-ARM id."""
    match = _SUB.match(resource_id.strip())
    if not match:
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
