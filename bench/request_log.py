"""Figures from the simulator's request log (``/_sim/requests``, entries with ``start``/``end``). Pure.

``time_weighted_in_flight`` is the mean number of requests open at the simulator over a window:
the sum of each request's time inside the window divided by the window's length (a request open
for the whole window counts 1). ``time_weighted_busy`` is the same for groups (subscriptions): the
mean number of groups with at least one request open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Interval = tuple[float, float]


def _clip(interval: Interval, window: Interval) -> Interval | None:
    start, end = max(interval[0], window[0]), min(interval[1], window[1])
    return (start, end) if end > start else None


def time_weighted_in_flight(intervals: Iterable[Interval], window: Interval) -> float:
    length = window[1] - window[0]
    if length <= 0:
        return 0.0
    total = 0.0
    for interval in intervals:
        clipped = _clip(interval, window)
        if clipped is not None:
            total += clipped[1] - clipped[0]
    return total / length


def union_length(intervals: Iterable[Interval]) -> float:
    """Length of the union of intervals (overlaps counted once)."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def time_weighted_busy(groups: Mapping[str, Iterable[Interval]], window: Interval) -> float:
    length = window[1] - window[0]
    if length <= 0:
        return 0.0
    busy = 0.0
    for intervals in groups.values():
        busy += union_length(c for c in (_clip(i, window) for i in intervals) if c is not None)
    return busy / length


@dataclass(frozen=True)
class RequestCounts:
    arm_attempts: int  # ARM requests, 429 answers included
    throttled: int  # of which answered 429
    blob_attempts: int  # storage data-plane requests (not in ARM's buckets)
    arm_reads_by_subscription: dict[str, int]  # reads ARM granted (took a token), per subscription
    templates: tuple[str, ...]  # every template seen (ARM and data plane)
    in_flight: float
    subscriptions_in_flight: float

    @property
    def arm_reads(self) -> int:
        return sum(self.arm_reads_by_subscription.values())

    @property
    def http_attempts(self) -> int:
        return self.arm_attempts + self.blob_attempts

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.arm_attempts if self.arm_attempts else 0.0


def count(log: Iterable[Mapping[str, Any]], window: Interval) -> RequestCounts:
    """Counts and in-flight figures of the entries of ``log`` (the simulator's request log)."""
    arm = blob = throttled = 0
    reads: Counter[str] = Counter()
    templates: set[str] = set()
    intervals: list[Interval] = []
    by_sub: dict[str, list[Interval]] = {}
    for entry in log:
        templates.add(str(entry["template"]))
        interval = (float(entry["start"]), float(entry["end"]))
        intervals.append(interval)
        sub = str(entry.get("subscription") or "tenant")
        by_sub.setdefault(sub, []).append(interval)
        if entry.get("data_plane"):
            blob += 1
            continue
        arm += 1
        if entry["status"] == 429:
            throttled += 1
        elif str(entry["method"]).upper() in ("GET", "HEAD"):
            reads[sub] += 1
    return RequestCounts(
        arm_attempts=arm,
        throttled=throttled,
        blob_attempts=blob,
        arm_reads_by_subscription=dict(reads),
        templates=tuple(sorted(templates)),
        in_flight=time_weighted_in_flight(intervals, window),
        subscriptions_in_flight=time_weighted_busy(by_sub, window),
    )
