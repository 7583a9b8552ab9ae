"""The pure diff: every transition kind, first-seen/last-seen/count, and deterministic ids."""

from __future__ import annotations

from shared.ledger.transitions import CheckState, TransitionKind, diff
from shared.model import Outcome, Status
from tests.ledger.helpers import T0, finding, hours

KEY = "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/a|/v"
CHECK = "role.vault-reader-on-cluster"


def run(states: dict[str, CheckState], status: Status, at_hours: float, **kw: object) -> tuple:
    result = diff(KEY, states, [finding(CHECK, status)], now=T0 + hours(at_hours), **kw)  # type: ignore[arg-type]
    return result.transitions, result.states


def test_sequence_of_evaluations() -> None:
    states: dict[str, CheckState] = {}
    seq: list[tuple[Status, float, tuple[Outcome, ...], TransitionKind | None]] = [
        (Status.PASS, 0, (), None),
        (Status.FAIL, 1, (), TransitionKind.NEW_FAILURE),
        (Status.FAIL, 2, (), None),
        (
            Status.FAIL,
            3,
            (Outcome("ra", CHECK, "failed", "assign Reader", "403"),),
            TransitionKind.REMEDIATION_FAILED,
        ),
        (Status.FAIL, 4, (Outcome("ra", CHECK, "failed", "assign Reader", "403"),), None),
        (Status.PASS, 5, (Outcome("ra", CHECK, "applied", "assign Reader"),), TransitionKind.FIXED),
        (Status.FAIL, 6, (), TransitionKind.NEW_FAILURE),
        (Status.UNKNOWN, 7, (), TransitionKind.BECAME_UNKNOWN),
        (Status.FAIL, 8, (), TransitionKind.BACK_TO_KNOWN),
        (Status.PASS, 9, (), TransitionKind.RECOVERED),
        (Status.UNKNOWN, 10, (), TransitionKind.BECAME_UNKNOWN),
        (Status.PASS, 11, (), TransitionKind.BACK_TO_KNOWN),
        (Status.NOT_APPLICABLE, 12, (), None),
    ]
    kinds: list[TransitionKind] = []
    for status, at, outcomes, expected in seq:
        transitions, states = run(states, status, at, outcomes=outcomes)
        assert [t.kind for t in transitions] == ([expected] if expected else []), (status, at)
        kinds.extend(t.kind for t in transitions)
        if transitions and transitions[0].kind is TransitionKind.RECOVERED:
            t = transitions[0]
            assert (t.first_seen, t.last_seen, t.count) == (T0 + hours(6), T0 + hours(9), 2)
        if transitions and transitions[0].kind is TransitionKind.FIXED:
            assert transitions[0].first_seen == T0 + hours(1)
            assert transitions[0].outcomes[0].result == "applied"
    assert len(kinds) == 9


def test_first_sight_failing_and_unknown() -> None:
    transitions, _ = run({}, Status.WARN, 0)
    assert transitions[0].kind is TransitionKind.NEW_FAILURE and transitions[0].count == 1
    transitions, _ = run({}, Status.UNKNOWN, 0)
    assert transitions[0].kind is TransitionKind.BECAME_UNKNOWN


def test_reminder_after_renotify_window_only_once_per_window() -> None:
    _, states = run({}, Status.FAIL, 0, renotify=hours(24))
    assert run(states, Status.FAIL, 23, renotify=hours(24))[0] == ()
    transitions, states = run(states, Status.FAIL, 25, renotify=hours(24))
    assert [t.kind for t in transitions] == [TransitionKind.STILL_FAILING]
    assert transitions[0].first_seen == T0
    assert run(states, Status.FAIL, 30, renotify=hours(24))[0] == ()
    assert run(states, Status.FAIL, 50, renotify=hours(24))[0][0].kind is TransitionKind.STILL_FAILING


def test_ids_are_deterministic_and_unchanged_state_is_not_rewritten() -> None:
    a, states = run({}, Status.FAIL, 0)
    b, _ = run({}, Status.FAIL, 0.5)
    assert a[0].id == b[0].id
    result = diff(KEY, states, [finding(CHECK, Status.FAIL)], now=T0 + hours(1))
    assert not result.changed and not result.transitions
    result = diff(KEY, states, [finding(CHECK, Status.FAIL, "other detail")], now=T0 + hours(1))
    assert result.changed == {CHECK} and not result.transitions


def test_severity() -> None:
    t, states = run({}, Status.FAIL, 0)
    assert t[0].severity == "fail"
    t, _ = run(states, Status.PASS, 1)
    assert t[0].severity == "fail"  # the resolution of a failure is reported at its level
    t, _ = run({}, Status.WARN, 0)
    assert t[0].severity == "warn"


def test_failed_action_reported_with_the_new_failure_is_not_repeated() -> None:
    failed = (Outcome("ra", CHECK, "failed", "assign Reader", "403"),)
    transitions, states = run({}, Status.FAIL, 0, outcomes=failed)
    assert [t.kind for t in transitions] == [TransitionKind.NEW_FAILURE]
    assert transitions[0].outcomes == failed
    assert run(states, Status.FAIL, 1, outcomes=failed)[0] == ()


def test_drift_observed_and_fixed_in_one_run_gives_both_transitions_in_order() -> None:
    _, states = run({}, Status.PASS, 0)
    applied = Outcome("role-assignment:c1", CHECK, "applied", "assign Reader")
    result = diff(
        KEY,
        states,
        [finding(CHECK, Status.PASS)],
        outcomes=[applied],
        observed=[finding(CHECK, Status.FAIL)],
        now=T0 + hours(1),
    )
    assert [t.kind for t in result.transitions] == [TransitionKind.NEW_FAILURE, TransitionKind.FIXED]
    assert [(t.previous, t.current) for t in result.transitions] == [
        (Status.PASS, Status.FAIL),
        (Status.FAIL, Status.PASS),
    ]
    assert result.transitions[1].outcomes == (applied,)
    assert result.states[CHECK].status is Status.PASS and result.states[CHECK].fail_count == 1
    same = diff(
        KEY, states, [finding(CHECK, Status.PASS)], observed=[finding(CHECK, Status.PASS)], now=T0 + hours(1)
    )
    assert same.transitions == ()
