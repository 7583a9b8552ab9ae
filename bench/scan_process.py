"""One scan in a fresh process, so its CPU time and peak RSS are its own:
``python -m bench.scan_process --mode scan|reference [--findings FILE]``, with the simulator's
settings and ``GUARD_SUBSCRIPTIONS`` in the environment (see :mod:`bench.scan`).

- ``scan``: the scheduled scan through the public entry points only, ``discover`` then
  ``iter_verify`` with a bulk ``ArmReader``; each result is folded into counts (and a findings
  line) and dropped, as ``aks-backup-guard check`` does.
- ``reference``: the same targets one at a time (``verify`` of a single target) through a non-bulk
  reader, the way the event path reads (one resource at a time), taking the subscriptions in
  turn: the scan's findings must equal these.

Prints one JSON line: targets, findings by status, unknown findings, the scan's wall and CPU
seconds (from ``discover`` to the last result; the process's start-up CPU before that, imports
and client set-up, apart as ``startup_cpu``), its start and end on the system-wide monotonic
clock (to line up with the simulator's request log), and the process's peak RSS (and the peak
before the scan started: imports and clients).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

from bench.findings import line

# In-cluster checks are off in the scan, so this check is always unknown (not a failed read).
VELERO = "cluster.velero-absent"
T = TypeVar("T")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Fold:
    """Streams results into counts, a digest and (optionally) a findings file; holds none of them."""

    def __init__(self, out: IO[str] | None) -> None:
        self.out = out
        self.targets = 0
        self.statuses: Counter[str] = Counter()
        self.unknown = 0
        self.digest = hashlib.sha256()

    def add(self, verification: Any) -> None:
        if verification.snapshot.opt_out == "ignore":
            return
        self.targets += 1
        for finding in verification.findings:
            status = str(finding.status)
            self.statuses[status] += 1
            if status == "unknown" and finding.check != VELERO:
                self.unknown += 1
            text = line(verification.target.key, finding.check, status)
            self.digest.update(text.encode())
            if self.out is not None:
                self.out.write(text)


def round_robin(items: Iterable[T], key: Callable[[T], str]) -> list[T]:
    """One item of each group in turn, groups in order of first appearance, order kept inside
    a group. Pure."""
    groups: dict[str, deque[T]] = {}
    for item in items:
        groups.setdefault(key(item), deque()).append(item)
    live = deque(groups.values())
    out: list[T] = []
    while live:
        group = live.popleft()
        out.append(group.popleft())
        if group:
            live.append(group)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan_process")
    parser.add_argument("--mode", choices=("scan", "reference"), default="scan")
    parser.add_argument("--findings", type=Path, help="write one line per finding here")
    args = parser.parse_args(argv)

    from shared.arm import ArmClients
    from shared.discovery import discover
    from shared.gather.reader import ArmReader
    from shared.settings import Settings
    from shared.verification import iter_verify, verify

    settings = Settings.from_env()
    clients = ArmClients(settings.arm)
    # Process start-up, not the scan: a Guard process loads its SDK modules once however many
    # scans it runs, so when the clients offer that step it happens before the clock starts.
    preload = getattr(clients, "preload", None)
    if callable(preload):
        preload()
    out = args.findings.open("w", encoding="utf-8") if args.findings else None
    fold = Fold(out)
    try:
        startup_rss = _peak_rss_mb()
        cpu0, start = _cpu(), time.monotonic()
        if args.mode == "scan":
            reader = ArmReader.for_settings(clients, settings, bulk=True)
            found = discover(reader, settings.subscriptions)
            for verification in iter_verify(found.targets, reader):
                fold.add(verification)
        else:
            reader = ArmReader.for_settings(clients, settings, bulk=False)
            found = discover(reader, settings.subscriptions)
            # One target at a time, taking the subscriptions in turn: the Guard paces itself to
            # ARM's read bucket per subscription, and one subscription's targets in a row would
            # wait out each bucket in turn (about a minute at 1,000 targets for nothing).
            for target in round_robin(found.targets, lambda t: t.subscription_id.lower()):
                for verification in verify([target], reader):
                    fold.add(verification)
        end = time.monotonic()
        cpu = _cpu() - cpu0
    finally:
        clients.close()
        if out is not None:
            out.close()
    print(
        json.dumps(
            {
                "mode": args.mode,
                "targets": fold.targets,
                "problems": len(found.problems),
                "statuses": dict(fold.statuses),
                "unknown_findings": fold.unknown,
                "findings_sha256": fold.digest.hexdigest(),
                "start": start,
                "end": end,
                "wall": end - start,
                "cpu": cpu,
                "startup_cpu": cpu0,
                "peak_rss_mb": _peak_rss_mb(),
                "startup_peak_rss_mb": startup_rss,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
