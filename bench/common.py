"""Shared helpers for the benchmarks: progress lines, estates, settings for the simulator."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from localdev.azure_sim.launcher import SimHandle

log = logging.getLogger(__name__)

SUBSCRIPTIONS = 10
LATENCY_MS = 30
# Per-target ARM list templates (other ARM reads are a constant per subscription or per vault).
PER_TARGET_TEMPLATES = ("/extensions", "/trustedAccessRoleBindings")

_START = time.monotonic()


def progress(message: str, *args: Any) -> None:
    """One progress line on stderr, with the seconds since the benchmark run started."""
    text = message % args if args else message
    print(f"[{time.monotonic() - _START:6.1f}s] {text}", file=sys.stderr, flush=True)


def subscriptions_of(estate: dict[str, Any]) -> list[str]:
    return [str(sub["id"]) for sub in estate["subscriptions"]]


def guard_env(sim: SimHandle, subscriptions: list[str], **extra: str) -> dict[str, str]:
    return {**sim.env(), "GUARD_SUBSCRIPTIONS": ",".join(subscriptions), **extra}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]
