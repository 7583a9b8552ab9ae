"""Small constructors shared by the check modules, so every Finding is shaped the same way.

A failing finding always carries a :class:`~shared.model.Fix` whose doc link comes from the
catalog; its status is the catalog's severity unless the caller says otherwise.
"""

from __future__ import annotations

from shared import ids
from shared.catalog import CHECKS
from shared.model import Finding, Fix, Snapshot, Status, Unreadable


def passed(check_id: str, detail: str) -> Finding:
    return Finding(check_id, Status.PASS, detail)


def not_applicable(check_id: str, reason: str) -> Finding:
    return Finding(check_id, Status.NOT_APPLICABLE, reason)


def unknown(check_id: str, reason: str) -> Finding:
    return Finding(check_id, Status.UNKNOWN, reason)


def unreadable(check_id: str, what: str, value: Unreadable) -> Finding:
    """``unknown`` naming the failed read, e.g. "could not read cluster: HTTP 403 ..."."""
    return unknown(check_id, f"could not read {what}: {value.reason}")


def failing(
    check_id: str,
    detail: str,
    summary: str,
    command: str | None,
    *,
    status: Status | None = None,
) -> Finding:
    """A finding whose condition does not hold: the catalog's severity unless ``status`` is given."""
    spec = CHECKS[check_id]
    chosen = status if status is not None else Status(spec.severity)
    return Finding(check_id, chosen, detail, Fix(summary, command, spec.doc))


def cluster_name(snapshot: Snapshot) -> str:
    return ids.name_of(snapshot.target.cluster_id)


def cluster_rg(snapshot: Snapshot) -> str:
    return ids.resource_group_of(snapshot.target.cluster_id) or "<resource-group>"


def cluster_sub(snapshot: Snapshot) -> str:
    try:
        return ids.subscription_of(snapshot.target.cluster_id)
    except ValueError:
        return "<subscription-id>"


def aks_args(snapshot: Snapshot) -> str:
    """``--resource-group RG --name NAME --subscription S`` for the target cluster."""
    return (
        f"--resource-group {cluster_rg(snapshot)} --name {cluster_name(snapshot)} "
        f"--subscription {cluster_sub(snapshot)}"
    )


def quote(value: str) -> str:
    """Single-quote for a POSIX shell when needed (ids and names rarely need it)."""
    if value and all(ch.isalnum() or ch in "-_./:=,@" for ch in value):
        return value
    return "'" + value.replace("'", "'\"'\"'") + "'"
