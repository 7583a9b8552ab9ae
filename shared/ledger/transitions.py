"""The pure diff of a target's previous check states against new findings.

``diff(...)`` takes what the ledger holds for one target (one :class:`CheckState` per check) and
what an evaluation found, plus the remediation outcomes of this run, and returns the transitions
and the new states. No I/O; deterministic for the same inputs.

Transition kinds (``TransitionKind``):

========================  =====================================================================
``new-failure``           the check now fails/warns and its last known status was not failing
                          (first sight, pass, not-applicable; or a fail <-> warn change)
``fixed-by-guard``        it failed and now passes, and this run applied an action for it
``recovered``             it failed and now passes without an applied action (someone else)
``remediation-failed``    an action for the failing check failed (once per failure episode)
``became-unknown``        it could not be evaluated any more (permission denied, gone, error)
``back-to-known``         it was unknown and is known again with the status it had before
``still-failing``         a reminder: it keeps failing and the last alert is older than
                          ``renotify`` (only when ``renotify`` is given)
========================  =====================================================================

A check missing from ``findings`` was not evaluated this time: its state is kept unchanged.
``pass`` <-> ``not-applicable`` and a changed ``detail`` update the state without a transition.

Each transition carries ``first_seen`` (start of the episode it reports on), ``last_seen`` (now)
and ``count`` (how many failure episodes this check has had on this target, this one included).

Transition ids are deterministic: SHA-256 of target key, check, kind, new status and the time
the previous state began. Retrying the same record after a crash produces the same ids, which is
what makes the ledger's writes and the outbox idempotent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.model import Finding, Fix, Outcome, Status


class TransitionKind(StrEnum):
    NEW_FAILURE = "new-failure"
    FIXED = "fixed-by-guard"
    RECOVERED = "recovered"
    REMEDIATION_FAILED = "remediation-failed"
    BECAME_UNKNOWN = "became-unknown"
    BACK_TO_KNOWN = "back-to-known"
    STILL_FAILING = "still-failing"
    NO_LONGER_GUARDED = "no-longer-guarded"


class Severity(StrEnum):
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"info": 0, "warn": 1, "fail": 2}[self.value]


FAILING = frozenset({Status.FAIL, Status.WARN})
_STATUS_SEVERITY = {
    Status.PASS: Severity.INFO,
    Status.NOT_APPLICABLE: Severity.INFO,
    Status.WARN: Severity.WARN,
    Status.UNKNOWN: Severity.WARN,
    Status.FAIL: Severity.FAIL,
}


def status_severity(status: Status | None) -> Severity:
    return Severity.INFO if status is None else _STATUS_SEVERITY[status]


@dataclass(frozen=True)
class CheckState:
    """What the ledger holds for one (target, check).

    ``since``: when the current status began; ``last_seen``: the last evaluation that wrote this
    state (the target row's heartbeat says when it was last confirmed); ``last_known``: the last
    status other than unknown; ``fail_since``: start of the current failure episode (kept while
    the check is unknown); ``fail_count``: failure episodes so far; ``last_notified``: when an alert
    about this check was last queued.
    """

    check: str
    status: Status
    detail: str
    fix: Fix | None
    since: datetime
    last_seen: datetime
    last_known: Status | None = None
    fail_since: datetime | None = None
    fail_count: int = 0
    last_notified: datetime | None = None
    remediation_failed_for: datetime | None = None  # ``since`` of the episode already alerted

    def to_dict(self) -> dict[str, object]:
        return {
            "check": self.check,
            "status": str(self.status),
            "detail": self.detail,
            "fix": self.fix.to_dict() if self.fix else None,
            "since": self.since.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "last_known": str(self.last_known) if self.last_known else None,
            "fail_since": self.fail_since.isoformat() if self.fail_since else None,
            "fail_count": self.fail_count,
            "last_notified": self.last_notified.isoformat() if self.last_notified else None,
            "remediation_failed_for": (
                self.remediation_failed_for.isoformat() if self.remediation_failed_for else None
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> CheckState:
        fix = data.get("fix")
        return cls(
            check=str(data["check"]),
            status=Status(str(data["status"])),
            detail=str(data.get("detail") or ""),
            fix=Fix(**fix) if isinstance(fix, dict) else None,
            since=datetime.fromisoformat(str(data["since"])),
            last_seen=datetime.fromisoformat(str(data["last_seen"])),
            last_known=Status(str(data["last_known"])) if data.get("last_known") else None,
            fail_since=datetime.fromisoformat(str(data["fail_since"])) if data.get("fail_since") else None,
            fail_count=int(str(data.get("fail_count") or 0)),
            last_notified=_dt(data.get("last_notified")),
            remediation_failed_for=_dt(data.get("remediation_failed_for")),
        )


@dataclass(frozen=True)
class Transition:
    id: str
    target_key: str
    check: str
    kind: TransitionKind
    previous: Status | None
    current: Status
    detail: str
    fix: Fix | None
    first_seen: datetime
    last_seen: datetime
    count: int
    outcomes: tuple[Outcome, ...] = ()

    @property
    def severity(self) -> Severity:
        """The higher of the severities of the previous and the new status (unknown counts as warn)."""
        if self.kind is TransitionKind.REMEDIATION_FAILED:
            return Severity.FAIL
        if self.kind is TransitionKind.NO_LONGER_GUARDED:
            return Severity.WARN  # people must learn that a target left the Guard's watch
        a, b = status_severity(self.previous), status_severity(self.current)
        return a if a.rank >= b.rank else b

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "target_key": self.target_key,
            "check": self.check,
            "kind": str(self.kind),
            "previous": str(self.previous) if self.previous else None,
            "current": str(self.current),
            "detail": self.detail,
            "fix": self.fix.to_dict() if self.fix else None,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "count": self.count,
            "outcomes": [o.to_dict() for o in self.outcomes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Transition:
        fix = data.get("fix")
        raw = data.get("outcomes")
        outcomes = raw if isinstance(raw, list) else []
        return cls(
            id=str(data["id"]),
            target_key=str(data["target_key"]),
            check=str(data["check"]),
            kind=TransitionKind(str(data["kind"])),
            previous=Status(str(data["previous"])) if data.get("previous") else None,
            current=Status(str(data["current"])),
            detail=str(data.get("detail") or ""),
            fix=Fix(**fix) if isinstance(fix, dict) else None,
            first_seen=datetime.fromisoformat(str(data["first_seen"])),
            last_seen=datetime.fromisoformat(str(data["last_seen"])),
            count=int(str(data.get("count") or 0)),
            outcomes=tuple(Outcome(**o) for o in outcomes if isinstance(o, dict)),
        )


@dataclass(frozen=True)
class Diff:
    transitions: tuple[Transition, ...]
    states: dict[str, CheckState]  # every check's state after this evaluation
    changed: frozenset[str] = field(default_factory=frozenset)  # checks whose state must be written


def transition_id(
    target_key: str, check: str, kind: TransitionKind, status: Status, since: datetime | None
) -> str:
    basis = "\n".join([target_key, check, str(kind), str(status), since.isoformat() if since else "-"])
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def diff(
    target_key: str,
    previous: Mapping[str, CheckState],
    findings: Iterable[Finding],
    *,
    outcomes: Iterable[Outcome] = (),
    observed: Iterable[Finding] = (),
    now: datetime,
    renotify: timedelta | None = None,
) -> Diff:
    """Compare ``findings`` with ``previous`` (see the module doc). Pure.

    ``observed``: what this run saw *before* it remediated. A check whose observed status differs
    from both the ledger and the final finding went through two steps in one run (for example
    pass -> fail -> pass: drifted, then fixed by the Guard); both transitions are returned, in
    order, so history shows the drift and the fix and one alert tells the whole story.
    """
    by_check: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_check.setdefault(outcome.check, []).append(outcome)
    seen_first = {f.check: f for f in observed}
    states = dict(previous)
    changed: set[str] = set()
    transitions: list[Transition] = []
    for final in findings:
        start = previous.get(final.check)
        first = seen_first.get(final.check)
        steps: list[tuple[Finding, tuple[Outcome, ...]]] = []
        if (
            first is not None
            and first.status != final.status
            and (start is None or start.status != first.status)
        ):
            steps.append((first, ()))
        steps.append((final, tuple(by_check.get(final.check, ()))))
        old = start
        for finding, acts in steps:
            old = _emit(target_key, old, finding, acts, now, renotify, transitions)
        if start != old and old is not None:
            states[final.check] = old
            changed.add(final.check)
    return Diff(tuple(transitions), states, frozenset(changed))


def _emit(
    target_key: str,
    old: CheckState | None,
    finding: Finding,
    acts: tuple[Outcome, ...],
    now: datetime,
    renotify: timedelta | None,
    transitions: list[Transition],
) -> CheckState:
    """One step of a check from ``old`` to ``finding``: appends its transition, returns the new state."""
    new, kind = _step(old, finding, acts, now)
    if kind is None and renotify is not None and old is not None and _due(old, finding, renotify, now):
        kind = TransitionKind.STILL_FAILING
    if kind is not None:
        since_key = old.last_notified if kind is TransitionKind.STILL_FAILING and old else None
        since_key = since_key or (old.since if old else None)
        tid = transition_id(target_key, finding.check, kind, finding.status, since_key)
        first_seen = _episode_start(old, new, kind, now)
        transitions.append(
            Transition(
                id=tid,
                target_key=target_key,
                check=finding.check,
                kind=kind,
                previous=old.status if old else None,
                current=finding.status,
                detail=finding.detail,
                fix=finding.fix,
                first_seen=first_seen,
                last_seen=now,
                count=new.fail_count,
                outcomes=acts,
            )
        )
        new = replace(new, last_notified=now)
        if finding.status in FAILING and any(a.result == "failed" for a in acts):
            new = replace(new, remediation_failed_for=new.since)  # this alert already says so
    return new


def _step(
    old: CheckState | None, finding: Finding, acts: tuple[Outcome, ...], now: datetime
) -> tuple[CheckState, TransitionKind | None]:
    status = finding.status
    failing = status in FAILING
    if old is None:
        state = CheckState(
            check=finding.check,
            status=status,
            detail=finding.detail,
            fix=finding.fix,
            since=now,
            last_seen=now,
            last_known=None if status is Status.UNKNOWN else status,
            fail_since=now if failing else None,
            fail_count=1 if failing else 0,
        )
        if failing:
            return state, TransitionKind.NEW_FAILURE
        if status is Status.UNKNOWN:
            return state, TransitionKind.BECAME_UNKNOWN
        return state, None

    if old.status == status and old.detail == finding.detail and old.fix == finding.fix:
        if _remediation_failed(old, failing, acts):
            return replace(old, remediation_failed_for=old.since), TransitionKind.REMEDIATION_FAILED
        return old, None

    same_status = old.status == status
    base = replace(
        old,
        status=status,
        detail=finding.detail,
        fix=finding.fix,
        last_seen=now,
        since=old.since if same_status else now,
    )
    if same_status:  # only the detail/fix text changed
        if _remediation_failed(old, failing, acts):
            return replace(base, remediation_failed_for=old.since), TransitionKind.REMEDIATION_FAILED
        return base, None

    if status is Status.UNKNOWN:
        return base, TransitionKind.BECAME_UNKNOWN

    was_failing = (old.last_known if old.status is Status.UNKNOWN else old.status) in FAILING
    base = replace(base, last_known=status)
    if failing:
        if was_failing and old.status is Status.UNKNOWN and old.last_known == status:
            return base, TransitionKind.BACK_TO_KNOWN
        if was_failing:  # fail <-> warn, or unknown -> a different failing status
            return base, TransitionKind.NEW_FAILURE
        return replace(base, fail_since=now, fail_count=old.fail_count + 1), TransitionKind.NEW_FAILURE
    # now pass or not-applicable
    if was_failing:
        applied = any(a.result in ("applied", "already-present") for a in acts)
        return replace(base, fail_since=None), TransitionKind.FIXED if applied else TransitionKind.RECOVERED
    if old.status is Status.UNKNOWN:
        return base, TransitionKind.BACK_TO_KNOWN
    return base, None  # pass <-> not-applicable


def _remediation_failed(old: CheckState, failing: bool, acts: tuple[Outcome, ...]) -> bool:
    """A failed action for a failing check, not yet alerted in this episode."""
    return failing and any(a.result == "failed" for a in acts) and old.remediation_failed_for != old.since


def _dt(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def _due(old: CheckState, finding: Finding, renotify: timedelta, now: datetime) -> bool:
    if finding.status not in FAILING or old.status != finding.status:
        return False
    last = old.last_notified or old.since
    return now - last >= renotify


def _episode_start(old: CheckState | None, new: CheckState, kind: TransitionKind, now: datetime) -> datetime:
    if kind in (TransitionKind.FIXED, TransitionKind.RECOVERED) and old is not None:
        return old.fail_since or old.since
    if kind in (TransitionKind.STILL_FAILING, TransitionKind.REMEDIATION_FAILED):
        return new.fail_since or new.since
    if kind is TransitionKind.BACK_TO_KNOWN and old is not None:
        return old.since
    return new.since if new.since else now
