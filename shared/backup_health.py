"""Backup health across targets: "27 instances: 24 backing up, 2 failing (causes), 1 not yet run".

Built from each backup target's ``backup.recent-jobs`` finding (status and detail, as the ledger
keeps them), so the digest, the CLI and HTTP say the same thing. Pure.

- backing up:  ``pass``, or ``warn`` for a job that completed with warnings;
- failing:     ``fail`` (the latest job failed, or the last success is too old), with its cause:
               the failing check the code-to-cause table named, else the Azure error code;
- not yet run: ``warn`` "not yet run" (no backup job at all);
- unknown:     the jobs could not be read.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from shared.checks.backup import NOT_YET_RUN
from shared.model import Finding, Status

CHECK = "backup.recent-jobs"
_MAPPED = re.compile(r"cause: (?P<code>[A-Za-z0-9_]+) -> (?P<check>[a-z0-9.\-]+) (?P<verb>is|was)")
_CODE = re.compile(r"cause: (?P<code>[A-Za-z0-9_]+): ")


@dataclass(frozen=True)
class BackupHealth:
    instances: int = 0
    backing_up: int = 0
    not_yet_run: int = 0
    unknown: int = 0
    failing: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (cluster name, cause)

    def line(self) -> str:
        """``27 instances: 24 backing up, 2 failing (aks-a: role.x, aks-b: Code), 1 not yet run``."""
        parts = [f"{self.backing_up} backing up"]
        if self.failing:
            causes = ", ".join(f"{name}: {cause}" for name, cause in self.failing)
            parts.append(f"{len(self.failing)} failing ({causes})")
        else:
            parts.append("0 failing")
        if self.not_yet_run:
            parts.append(f"{self.not_yet_run} not yet run")
        if self.unknown:
            parts.append(f"{self.unknown} unknown")
        return f"{self.instances} backup instances: " + ", ".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "instances": self.instances,
            "backing_up": self.backing_up,
            "failing": [{"cluster": name, "cause": cause} for name, cause in self.failing],
            "not_yet_run": self.not_yet_run,
            "unknown": self.unknown,
            "line": self.line(),
        }


def cause_of(detail: str) -> str:
    """The failing check named in a ``backup.recent-jobs`` detail, else its Azure code, else "stale"."""
    mapped = _MAPPED.search(detail)
    if mapped:
        fixed = " (fixed by the Guard)" if mapped.group("verb") == "was" else ""
        return mapped.group("check") + fixed
    code = _CODE.search(detail)
    if code:
        return code.group("code")
    return "no recent success" if "longer ago" in detail else "unexplained"


class HealthTally:
    """Running backup health for a streamed report: counts, plus the failing instances only."""

    def __init__(self) -> None:
        self.instances = self.backing_up = self.not_yet_run = self.unknown = 0
        self.failing: list[tuple[str, str]] = []

    def add(self, cluster_id: str, status: Status | str, detail: str) -> None:
        status = Status(str(status))
        if status is Status.NOT_APPLICABLE:
            return
        self.instances += 1
        if status is Status.PASS or (status is Status.WARN and not detail.startswith(NOT_YET_RUN)):
            self.backing_up += 1
        elif status is Status.WARN:
            self.not_yet_run += 1
        elif status is Status.FAIL:
            self.failing.append((cluster_id.rstrip("/").rsplit("/", 1)[-1], cause_of(detail)))
        else:
            self.unknown += 1

    def add_findings(self, cluster_id: str, findings: Iterable[Finding]) -> None:
        for finding in findings:
            if finding.check == CHECK:
                self.add(cluster_id, finding.status, finding.detail)

    def result(self) -> BackupHealth:
        return BackupHealth(
            self.instances, self.backing_up, self.not_yet_run, self.unknown, tuple(sorted(self.failing))
        )


def summarize(rows: Iterable[tuple[str, Status | str, str]]) -> BackupHealth:
    """``rows``: (cluster id, status of ``backup.recent-jobs``, its detail), one per backup target;
    ``not-applicable`` rows (no backup instance) are skipped."""
    tally = HealthTally()
    for cluster_id, status, detail in rows:
        tally.add(cluster_id, status, detail)
    return tally.result()
