"""ARM's token buckets per (subscription, principal): reads 250/25 per s, writes and deletes 200/10."""

from __future__ import annotations

import time
from dataclasses import dataclass

LIMITS = {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}


def kind_of(method: str) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    if method == "DELETE":
        return "deletes"
    return "writes"


@dataclass
class Bucket:
    capacity: float
    rate: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


class Throttle:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.buckets: dict[tuple[str, str, str], Bucket] = {}

    def _bucket(self, sub: str, principal: str, kind: str, now: float) -> Bucket:
        key = (sub, principal, kind)
        bucket = self.buckets.get(key)
        if bucket is None:
            capacity, rate = LIMITS[kind]
            bucket = self.buckets[key] = Bucket(capacity, rate, capacity, now)
        bucket.refill(now)
        return bucket

    def take(self, sub: str, principal: str, method: str) -> tuple[bool, str, int, float]:
        """(allowed, kind, remaining, retry_after_seconds). Without ``enabled`` always allowed."""
        kind = kind_of(method)
        now = time.monotonic()
        bucket = self._bucket(sub, principal, kind, now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True, kind, int(bucket.tokens), 0.0
        if not self.enabled:
            return True, kind, 0, 0.0
        wait = (1.0 - bucket.tokens) / bucket.rate
        return False, kind, 0, wait
