"""Inhibition: a failing root cause carries the checks that cannot hold because of it.

:data:`INHIBITIONS` is data, like the role matrix: each rule names a cause (a failing check, or a
phrase in a failing finding's detail) and the checks that depend on it. :func:`arrange` takes
one target's transitions and returns them as :class:`Item` s: a cause with its dependents listed
under it (one entry in an alert, not one per check), and every other transition on its own.
Pure; the order of causes is the order of the rules, then the order of the input.

Rules (see docs/alerts.md):

- **vault identity missing**: a ``role.vault-*`` row failing because the vault has no managed
  identity; every other ``role.vault-*`` row depends on it;
- **cluster without managed identity**: ``cluster.identity``; the cluster's role rows depend on it;
- **extension not installed**: ``extension.installed``; the extension's storage location and its
  identity's role row depend on it;
- **Guard not authorised**: any finding whose detail says the Guard is "not authorised" (the
  scope's owner has not consented); every other such finding of the target is listed under the
  first one, since one consent conversation settles them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.ledger.transitions import Transition
from shared.model import Status
from shared.roles import ROLE_MATRIX

_ROWS_OF = {
    who: tuple(r.check for r in ROLE_MATRIX if r.assignee == who) for who in ("vault", "cluster", "extension")
}
_FAILING = (Status.FAIL, Status.WARN)


@dataclass(frozen=True)
class Inhibition:
    name: str  # what the cause is, as people say it
    cause_checks: tuple[str, ...]  # a failing transition of one of these checks is the cause ...
    cause_detail: str  # ... when its detail contains this phrase ('' = any detail)
    dependents: tuple[str, ...]  # checks listed under the cause; () = any check matching the cause

    def is_cause(self, t: Transition) -> bool:
        if t.current not in _FAILING:
            return False
        if self.cause_checks and t.check not in self.cause_checks:
            return False
        return self.cause_detail.lower() in t.detail.lower()

    def depends(self, t: Transition) -> bool:
        if t.current not in (*_FAILING, Status.UNKNOWN):
            return False
        return t.check in self.dependents if self.dependents else self.is_cause(t)


INHIBITIONS: tuple[Inhibition, ...] = (
    Inhibition("Guard not authorised", (), "not authorised", ()),
    Inhibition(
        "Backup vault has no managed identity",
        _ROWS_OF["vault"],
        "has no managed identity",
        _ROWS_OF["vault"],
    ),
    Inhibition("Cluster has no managed identity", ("cluster.identity",), "", _ROWS_OF["cluster"]),
    Inhibition(
        "Backup extension not installed",
        ("extension.installed",),
        "",
        ("extension.storage-location", *_ROWS_OF["extension"]),
    ),
)


@dataclass(frozen=True)
class Item:
    """One entry of an alert: a transition, with the transitions it inhibits (if it is a cause)."""

    transition: Transition
    cause: str = ""  # the rule's name when this transition is a root cause
    dependents: tuple[Transition, ...] = ()


def arrange(transitions: Sequence[Transition]) -> list[Item]:
    """Group one target's ``transitions`` under their root causes (see the module doc)."""
    remaining = list(transitions)
    items: list[Item] = []
    for rule in INHIBITIONS:
        cause = next((t for t in remaining if rule.is_cause(t)), None)
        if cause is None:
            continue
        under = tuple(t for t in remaining if t is not cause and rule.depends(t))
        if not under:
            continue
        items.append(Item(cause, rule.name, under))
        taken = {id(cause), *(id(t) for t in under)}
        remaining = [t for t in remaining if id(t) not in taken]
    return items + [Item(t) for t in remaining]
