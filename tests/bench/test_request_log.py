"""Figures from the simulator's request log (bench/request_log.py): time-weighted requests and
subscriptions in flight, and the counts that feed the bound."""

from __future__ import annotations

from typing import Any

import pytest

from bench.request_log import count, time_weighted_busy, time_weighted_in_flight, union_length


def test_one_request_open_for_the_whole_window_is_one_in_flight() -> None:
    assert time_weighted_in_flight([(0.0, 10.0)], (0.0, 10.0)) == pytest.approx(1.0)


def test_in_flight_weights_each_request_by_its_time_inside_the_window() -> None:
    # 4 s + 2 s (clipped from 8..14 to 8..10) + 0 (outside) over a 10 s window.
    intervals = [(1.0, 5.0), (8.0, 14.0), (11.0, 12.0)]
    assert time_weighted_in_flight(intervals, (0.0, 10.0)) == pytest.approx(0.6)


def test_overlapping_requests_add_up() -> None:
    assert time_weighted_in_flight([(0.0, 2.0)] * 12, (0.0, 2.0)) == pytest.approx(12.0)


def test_an_empty_window_is_zero() -> None:
    assert time_weighted_in_flight([(0.0, 1.0)], (5.0, 5.0)) == 0.0


def test_union_counts_overlaps_once() -> None:
    assert union_length([(0.0, 2.0), (1.0, 3.0), (5.0, 6.0), (5.5, 5.7)]) == pytest.approx(4.0)


def test_busy_groups_counts_a_subscription_once_however_many_requests_it_has_open() -> None:
    groups = {
        "a": [(0.0, 10.0), (0.0, 10.0), (2.0, 3.0)],  # busy the whole window
        "b": [(0.0, 5.0)],  # half of it
        "c": [(20.0, 30.0)],  # never inside it
    }
    assert time_weighted_busy(groups, (0.0, 10.0)) == pytest.approx(1.5)


def entry(
    sub: str | None, status: int = 200, *, data_plane: bool = False, start: float = 0.0
) -> dict[str, Any]:
    template = (
        "GET /{account}/{container}?restype=container&comp=list" if data_plane else "GET /subscriptions/{s}"
    )
    return {
        "method": "GET",
        "template": template,
        "subscription": sub,
        "status": status,
        "data_plane": data_plane,
        "start": start,
        "end": start + 1.0,
    }


def test_count_separates_429s_and_blob_listings_from_the_reads_arm_granted() -> None:
    log = [
        entry("a"),
        entry("a", 404),  # took a token: a read ARM answered
        entry("a", 429),
        entry("b"),
        entry("b", data_plane=True),
        entry("b", data_plane=True, start=1.0),
    ]
    counts = count(log, (0.0, 2.0))
    assert counts.arm_attempts == 4
    assert counts.throttled == 1
    assert counts.throttled_share == pytest.approx(0.25)
    assert counts.blob_attempts == 2
    assert counts.http_attempts == 6
    assert counts.arm_reads_by_subscription == {"a": 2, "b": 1}
    assert counts.in_flight == pytest.approx(3.0)  # 6 requests x 1 s over 2 s
    assert counts.subscriptions_in_flight == pytest.approx(1.5)  # a for 1 s, b for 2 s
