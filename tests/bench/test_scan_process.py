"""The sequential reference's order (bench/scan_process.py): subscriptions in turn."""

from __future__ import annotations

from bench.scan_process import round_robin


def test_the_reference_takes_subscriptions_in_turn_keeping_each_ones_order() -> None:
    items = ["a1", "a2", "a3", "b1", "c1", "c2"]
    assert round_robin(items, lambda item: item[0]) == ["a1", "b1", "c1", "a2", "c2", "a3"]
    assert round_robin([], lambda item: item) == []
