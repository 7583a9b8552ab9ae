"""The consent rule: may the Guard write to scope X on behalf of requester R? Pure; no I/O.

The Guard holds write rights across every watched subscription, while tags, extension settings and
backup instances are written by whoever owns one resource group. So every write names its
*requester* R (the Backup vault or the cluster on whose behalf it is made) and the *scope* X it
touches, and is allowed only when (docs/trust-model.md):

1. X lies in R's own resource group; or
2. X, X's resource group or X's subscription carries a consent tag (``aks-backup-guard-allow`` or
   ``aks-backup-guard-allow-<anything>``, one id per tag) whose value is exactly R, R's resource
   group or R's subscription (whole ids, compared case-insensitively; a value that is not exactly
   such an id is ignored, never cut down to a parent); a cluster's own
   ``aks-backup-guard-vault`` tag is its consent to that vault; or
3. an operator-declared trust domain (``GUARD_TRUST_DOMAINS``) contains both X and R.

The tags come from :class:`~shared.model.ConsentFacts`, read by ``gather`` (and read again, fresh,
right before a write by :mod:`shared.reconcile`). A refusal carries the exact command the
scope's owner runs to consent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass

from shared import ids
from shared.model import (
    CONSENT_TAG,
    RESTORE_TARGET_TAG_PREFIX,
    VAULT_TAG,
    ClusterInfo,
    ConsentFacts,
    Read,
    Snapshot,
    StorageAccountInfo,
    Unreadable,
    VaultInfo,
)

REQUESTER_SHAPES = ("backup-vault", "cluster", "storage-account")
SCOPE_SHAPES = ("subscription", "resource-group", "cluster", "storage-account")
_VALUE_SHAPES = ("subscription", "resource-group", "cluster", "backup-vault", "storage-account")


@dataclass(frozen=True)
class Consent:
    """The rule's answer for one (scope, requester) pair; ``command`` is set when refused."""

    allowed: bool
    scope: str
    requester: str
    reason: str
    command: str | None = None
    unknown: bool = False  # refused because a tag the rule needed could not be read


def consent_tag_name(requester: str) -> str:
    """The tag name the consent command uses for ``requester``: stable, and distinct per requester,
    so consenting to a second requester never overwrites the first (tag values hold 256 chars)."""
    digest = hashlib.sha256(ids.normalize(requester).encode()).hexdigest()[:8]
    return f"{CONSENT_TAG}-{digest}"


def consent_command(scope: str, requester: str) -> str:
    return (
        f"az tag update --resource-id {scope} --operation Merge "
        f"--tags {consent_tag_name(requester)}={requester}"
    )


def _is_consent_tag(name: str) -> bool:
    lowered = name.strip().lower()
    return lowered == CONSENT_TAG or lowered.startswith(CONSENT_TAG + "-")


def consent_values(tags: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(well-formed ids, malformed values) of every consent tag in ``tags``."""
    good: list[str] = []
    bad: list[str] = []
    for name, value in tags.items():
        if not _is_consent_tag(name):
            continue
        text = (value or "").strip()
        (good if ids.shape_of(text) in _VALUE_SHAPES else bad).append(text)
    return good, bad


def restore_target_ids(tags: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(cluster ids, malformed values) named by a vault's restore-target tags.

    Every tag whose name starts with ``aks-backup-guard-restore-target`` holds one cluster id (a
    comma-separated list is read too, for short ids); anything that is not exactly a cluster id is
    returned as malformed, never trimmed into one."""
    good: list[str] = []
    bad: list[str] = []
    for name, value in tags.items():
        if not name.strip().lower().startswith(RESTORE_TARGET_TAG_PREFIX):
            continue
        for part in (value or "").split(","):
            text = part.strip()
            if not text:
                continue
            (good if ids.is_shaped(text, "cluster") else bad).append(text)
    return good, bad


def _levels(scope: str) -> list[str]:
    """X, X's resource group and X's subscription (deduplicated, narrowest first)."""
    out = [scope]
    group = ids.resource_group_id(scope)
    if group and not ids.same(group, scope):
        out.append(group)
    sub = f"/subscriptions/{ids.subscription_of(scope)}"
    if not ids.same(sub, scope):
        out.append(sub)
    return out


def _names(requester: str) -> list[str]:
    """R, R's resource group and R's subscription: the values a consent tag may hold for R."""
    out = [requester]
    group = ids.resource_group_id(requester)
    if group:
        out.append(group)
    out.append(f"/subscriptions/{ids.subscription_of(requester)}")
    return out


def decide(scope: str, requester: str, facts: ConsentFacts) -> Consent:
    """Apply the rule (see the module docstring) to one (scope, requester) pair. Never raises."""
    if ids.shape_of(scope) not in SCOPE_SHAPES:
        return Consent(False, scope, requester, f"{scope!r} is not a scope the Guard may write to")
    if ids.shape_of(requester) not in REQUESTER_SHAPES:
        return Consent(
            False, scope, requester, f"{requester!r} is not a vault, cluster or storage account id"
        )
    own_group = ids.resource_group_id(requester)
    scope_group = ids.resource_group_id(scope)
    if own_group and scope_group and ids.same(own_group, scope_group):
        return Consent(True, scope, requester, f"{scope} lies in the requester's resource group")
    for domain in facts.trust_domains:
        if ids.is_at_or_above(domain, scope) and ids.is_at_or_above(domain, requester):
            return Consent(True, scope, requester, f"trust domain {domain} holds both")
    wanted = {ids.normalize(name) for name in _names(requester)}
    notes: list[str] = []
    unreadable = False
    for level in _levels(scope):
        tags = facts.tags_of(level)
        if tags is None:
            notes.append(f"tags of {level} not read")
            continue
        if isinstance(tags, Unreadable):
            notes.append(f"tags of {level} unreadable: {tags.reason}")
            unreadable = True
            continue
        values, malformed = consent_values(tags)
        if level == scope and ids.shape_of(scope) == "cluster":
            vault = (ids.tag(tags, VAULT_TAG) or "").strip()
            if ids.is_shaped(vault, "backup-vault"):
                values.append(vault)
        for value in values:
            if ids.normalize(value) in wanted:
                return Consent(True, scope, requester, f"consent tag on {level} names {value}")
        notes += [f"ignored malformed consent tag value {bad!r} on {level}" for bad in malformed]
    detail = f" ({'; '.join(notes)})" if notes else ""
    return Consent(
        False,
        scope,
        requester,
        f"the Guard is not authorised to write to {scope} for {requester}: it lies outside the "
        f"requester's resource group and neither it, its resource group nor its subscription carries "
        f"a {CONSENT_TAG} tag naming the requester, its resource group or its subscription{detail}",
        consent_command(scope, requester),
        unknown=unreadable,
    )


def vault_id(snapshot: Snapshot) -> str:
    """The vault id as ARM spells it (the target's id when the vault could not be read)."""
    return snapshot.vault.id if isinstance(snapshot.vault, VaultInfo) else snapshot.target.vault_id


def cluster_id(snapshot: Snapshot) -> str:
    return snapshot.cluster.id if isinstance(snapshot.cluster, ClusterInfo) else snapshot.target.cluster_id


def target_consent(snapshot: Snapshot) -> Consent:
    """Does the cluster agree to be guarded for this vault? (Every write for the target needs it.)"""
    return decide(cluster_id(snapshot), vault_id(snapshot), snapshot.consent)


_VAULT_ON_CLUSTER = frozenset(
    {
        "trusted-access.binding",
        "cluster.disk-csi-driver",
        "cluster.snapshot-controller",
        "extension.installed",
        "restore-target.extension",
    }
)
"""Checks whose fix writes to the cluster on the vault's behalf: the target's own consent covers them."""


def write_consents(snapshot: Snapshot, check: str) -> list[Consent]:
    """The consents the fix of ``check`` needs: always the target's (cluster <- vault), then the
    write's own (scope <- requester) from the trust table in docs/trust-model.md."""
    from shared.roles import ROLE_ROWS, resolve_role_row

    facts = snapshot.consent
    vault, cluster = vault_id(snapshot), cluster_id(snapshot)
    out = [target_consent(snapshot)]
    row = ROLE_ROWS.get(check)
    if row is not None:
        resolved = resolve_role_row(snapshot, row)
        if resolved.scope_id:
            out.append(decide(resolved.scope_id, vault if row.assignee == "vault" else cluster, facts))
    elif check == "storage.network-access" and isinstance(snapshot.storage_account, StorageAccountInfo):
        out.append(decide(snapshot.storage_account.id, vault, facts))
    elif check == "subscription.kubernetes-configuration-registered":
        out.append(decide(f"/subscriptions/{ids.subscription_of(cluster)}", cluster, facts))
    return out


def no_longer_guarded(snapshot: Snapshot) -> str | None:
    """Why the target is gone (re-derived from the snapshot's reads), or None while it still exists.

    Only reads that say "not there" count; a denied or failed read is not proof of absence."""
    target = snapshot.target
    for what, value in (("cluster", snapshot.cluster), ("backup vault", snapshot.vault)):
        if isinstance(value, Unreadable) and value.kind == "not-found":
            return f"the {what} no longer exists ({value.reason})"
    if target.kind == "backup":
        instance = snapshot.backup_instance
        if isinstance(instance, Unreadable) and instance.kind == "not-found":
            return f"the backup instance no longer exists ({instance.reason})"
    if target.kind == "prepare" and isinstance(snapshot.cluster, ClusterInfo):
        tagged = (ids.tag(snapshot.cluster.tags, VAULT_TAG) or "").strip()
        if not ids.same(tagged, target.vault_id):
            return f"the cluster's {VAULT_TAG} tag no longer names the vault"
    if target.kind == "restore" and isinstance(snapshot.vault, VaultInfo):
        listed, _ = restore_target_ids(snapshot.vault.tags)
        if not any(ids.same(c, target.cluster_id) for c in listed):
            return "the vault's restore-target tags no longer list the cluster"
    return None


def facts_plan(
    pairs: Iterable[tuple[str | None, str | None]], trust_domains: Iterable[str]
) -> Generator[str, Read[Mapping[str, str]], ConsentFacts]:
    """The tag reads :func:`decide` needs for these (scope, requester) pairs, as a generator:
    it yields the scope whose tags it needs next, is sent what was read, and returns the facts.

    Pairs already allowed by a resource group or a trust domain read nothing. Otherwise the levels
    are read broadest first (a subscription's tags serve every pair below it) and reading stops
    once the pair is allowed; a refused pair has read every level, so its reason is complete.
    Sans I/O: :func:`gather_facts` drives it with a sync reader, the scan with an async one."""
    domains = tuple(trust_domains)
    tags: dict[str, Read[Mapping[str, str]]] = {}
    for scope, requester in pairs:
        scope, requester = (scope or "").strip(), (requester or "").strip()
        if ids.shape_of(scope) not in SCOPE_SHAPES or ids.shape_of(requester) not in REQUESTER_SHAPES:
            continue
        for level in reversed(_levels(scope)):
            if decide(scope, requester, ConsentFacts(tags, domains)).allowed:
                break
            key = ids.normalize(level)
            if key not in tags:
                tags[key] = yield level
    return ConsentFacts(tags, domains)


def gather_facts(
    pairs: Iterable[tuple[str | None, str | None]],
    trust_domains: Iterable[str],
    read_tags: Callable[[str], Read[Mapping[str, str]]],
) -> ConsentFacts:
    """Run :func:`facts_plan` with ``read_tags`` (the reader's cached ``scope_tags``) as its I/O."""
    plan = facts_plan(pairs, trust_domains)
    try:
        level = next(plan)
        while True:
            level = plan.send(read_tags(level))
    except StopIteration as done:
        return done.value


__all__ = [
    "Consent",
    "consent_command",
    "consent_tag_name",
    "consent_values",
    "decide",
    "no_longer_guarded",
    "restore_target_ids",
    "facts_plan",
    "gather_facts",
    "target_consent",
    "write_consents",
]
