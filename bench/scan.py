"""The scheduled scan against the simulator with ARM's token buckets on (``--throttle``) and 30 ms
per round trip, compared with the bound no client can beat (:mod:`bench.bound`).

Sizes: 1,000 targets over 10 subscriptions (under ARM's read burst: bound by round-trip latency)
and 10,000 targets over 10 subscriptions (bound by ARM's read bucket); three runs each, and the
figures are the medians of per-run values (each ratio is one run's wall over that run's bound).
Each run gets a fresh simulator (full buckets) and a fresh scan process
(:mod:`bench.scan_process`), so CPU time and peak RSS belong to that one scan. ``--quick`` runs
40 targets over 2 subscriptions and 300 over 2 (the second still past the burst) under the same
figure names.

Per run, from the scan process: wall, CPU (user + system), peak RSS, findings by status; from the
simulator's request log: ARM requests (429 answers included), 429s, blob data-plane listings
(counted apart: not ARM, not in the bucket), the reads per subscription that feed the bound, the
templates that give the critical path, and the requests and subscriptions in flight
(time-weighted over the scan's wall time, as seen by the simulator).

At 1,000 targets a sequential reference (same estate, no latency or throttling, one target at a
time through a non-bulk reader) must give the same findings as every scan run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import findings
from bench.bound import critical_path as find_critical_path
from bench.bound import lower_bound
from bench.common import (
    LATENCY_MS,
    PER_TARGET_TEMPLATES,
    SUBSCRIPTIONS,
    guard_env,
    progress,
    subscriptions_of,
)
from bench.report import Figure
from bench.request_log import count
from localdev.azure_sim.launcher import running_simulator
from localdev.estates.generate import generate_estate
from shared.catalog import SCAN_ONLY

ROOT = Path(__file__).resolve().parent.parent
CHILD_TIMEOUT = 1800


@dataclass(frozen=True)
class Size:
    label: str
    targets: int
    subscriptions: int
    runs: int
    reference: bool  # compare with the sequential reference run


FULL = (Size("1k", 1000, SUBSCRIPTIONS, 3, True), Size("10k", 10_000, SUBSCRIPTIONS, 3, False))
QUICK = (Size("1k", 40, 2, 1, True), Size("10k", 300, 2, 1, False))


def _child(sim_env: dict[str, str], mode: str, findings_path: Path | None) -> dict[str, Any]:
    env = {**os.environ, **sim_env}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    cmd = [sys.executable, "-m", "bench.scan_process", "--mode", mode]
    if findings_path is not None:
        cmd += ["--findings", str(findings_path)]
    done = subprocess.run(
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=CHILD_TIMEOUT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def reference_run(estate: dict[str, Any], out: Path) -> dict[str, Any]:
    subs = subscriptions_of(estate)
    with running_simulator(estate, latency_ms=0, throttle=False) as sim:
        return _child(guard_env(sim, subs), "reference", out)


def one_scan(estate: dict[str, Any], *, latency_ms: int, findings_path: Path | None) -> dict[str, Any]:
    """One scan in a fresh process against a fresh simulator; the run's figures (a flat dict)."""
    subs = subscriptions_of(estate)
    with running_simulator(estate, latency_ms=latency_ms, throttle=True) as sim:
        sim.reset_counters()
        child = _child(guard_env(sim, subs), "scan", findings_path)
        requests = sim.requests(log=True)
    log = requests["log"]
    if len(log) != requests["total"]:  # the simulator keeps the last 200,000 entries
        progress("  simulator log holds %s of %s requests: figures undercount", len(log), requests["total"])
    counts = count(log, (child["start"], child["end"]))
    path = find_critical_path(counts.templates)
    bound = lower_bound(counts.arm_reads_by_subscription, path.round_trips, latency_ms / 1000)
    targets = int(child["targets"])
    per_target = sum(
        1
        for entry in log
        if entry["status"] != 429 and any(str(entry["template"]).endswith(t) for t in PER_TARGET_TEMPLATES)
    )
    return {
        "targets": targets,
        "requests_logged": len(log),
        "requests_total": requests["total"],
        "wall": child["wall"],
        "bound": bound.seconds,
        "bound_by": bound.bound_by,
        "bucket_bound": bound.bucket_seconds,
        "bucket_subscription": bound.bucket_subscription,
        "latency_bound": bound.latency_seconds,
        "round_trips": path.round_trips,
        "critical_path": list(path.chain),
        "unclassified_templates": list(path.unclassified),
        "ratio": child["wall"] / bound.seconds if bound.seconds else float("nan"),
        "cpu": child["cpu"],
        "startup_cpu": child.get("startup_cpu"),
        "arm_attempts": counts.arm_attempts,
        "blob_listings": counts.blob_attempts,
        "throttled": counts.throttled,
        "throttled_share": counts.throttled_share,
        "cpu_ms_per_arm_request": 1000 * child["cpu"] / max(1, counts.arm_attempts),
        "cpu_ms_per_http_request": 1000 * child["cpu"] / max(1, counts.http_attempts),
        "arm_reads": counts.arm_reads,
        "max_arm_reads_in_a_subscription": max(counts.arm_reads_by_subscription.values(), default=0),
        "reads_per_target": counts.arm_reads / max(1, targets),
        "per_target_reads_per_target": per_target / max(1, targets),
        "blob_reads_per_target": counts.blob_attempts / max(1, targets),
        "in_flight": counts.in_flight,
        "subscriptions_in_flight": counts.subscriptions_in_flight,
        "peak_rss_mb": child["peak_rss_mb"],
        "startup_peak_rss_mb": child.get("startup_peak_rss_mb"),
        "unknown_findings": child["unknown_findings"],
        "statuses": child["statuses"],
        "findings_sha256": child["findings_sha256"],
    }


def _describe(size: Size, i: int, s: dict[str, Any]) -> None:
    progress(
        "scan %s targets / %s subs run %s/%s: %.2f s, bound %.2f s (%s; bucket %.2f s, %s round trips) "
        "x%.2f; CPU %.2f ms/HTTP request (%.2f ms/ARM request); %.1f requests and %.1f subs in flight; "
        "%s x 429 (%.2f%%); peak RSS %.0f MB; %s unknown",
        size.targets,
        size.subscriptions,
        i + 1,
        size.runs,
        s["wall"],
        s["bound"],
        s["bound_by"],
        s["bucket_bound"],
        s["round_trips"],
        s["ratio"],
        s["cpu_ms_per_http_request"],
        s["cpu_ms_per_arm_request"],
        s["in_flight"],
        s["subscriptions_in_flight"],
        s["throttled"],
        100 * s["throttled_share"],
        s["peak_rss_mb"],
        s["unknown_findings"],
    )
    if s["unclassified_templates"]:
        progress(
            "  templates bench/bound.py does not know (counted as per-target reads): %s",
            s["unclassified_templates"],
        )


def run_size(size: Size, workdir: Path) -> list[Figure]:
    estate = generate_estate(size.targets, size.subscriptions, seed=1)
    reference: dict[findings.Key, str] | None = None
    reference_info: dict[str, Any] = {}
    if size.reference:
        progress("scan %s targets: sequential reference run (non-bulk reader, no latency)", size.targets)
        ref_path = workdir / f"reference-{size.label}.tsv"
        reference_info = reference_run(estate, ref_path)
        reference = findings.load(ref_path)
        progress(
            "scan %s targets: reference done in %.1f s, %s findings, %s unknown",
            size.targets,
            reference_info["wall"],
            len(reference),
            reference_info["unknown_findings"],
        )
    samples: list[dict[str, Any]] = []
    for i in range(size.runs):
        path = workdir / f"scan-{size.label}-{i}.tsv" if size.reference else None
        sample = one_scan(estate, latency_ms=LATENCY_MS, findings_path=path)
        if reference is not None and path is not None:
            diffs = findings.differences(findings.load(path), reference, left_only=SCAN_ONLY)
            sample["differences"] = len(diffs)
            sample["first_differences"] = [list(d) for d in diffs[:5]]
            path.unlink()
        samples.append(sample)
        _describe(size, i, sample)
        if sample.get("differences"):
            progress(
                "  %s findings differ from the reference, e.g. %s",
                sample["differences"],
                sample["first_differences"],
            )
    return _figures(size, samples, reference_info)


def _figures(size: Size, samples: list[dict[str, Any]], reference_info: dict[str, Any]) -> list[Figure]:
    def values(key: str) -> list[float]:
        return [float(s[key]) for s in samples]

    scale = f"{size.targets} targets, {size.subscriptions} subs, {LATENCY_MS} ms, --throttle"
    first = samples[0]
    big = size.label == "10k"
    extra = {
        "targets": size.targets,
        "subscriptions": size.subscriptions,
        "latency_ms": LATENCY_MS,
        "runs_detail": samples,
        "reference": reference_info,
    }
    name = f"scan_{size.label}"
    figures = [
        Figure(
            f"{name}_wall_seconds",
            "scan",
            "s",
            values("wall"),
            target=None if big else 5.0,
            note=scale,
            extra=extra,
        ),
        Figure(
            f"{name}_bound_seconds",
            "scan",
            "s",
            values("bound"),
            note=f"bound by {first['bound_by']}: bucket {first['bucket_bound']:.2f} s "
            f"({first['max_arm_reads_in_a_subscription']} ARM reads in the busiest sub), "
            f"{first['round_trips']} round trips x {LATENCY_MS} ms ({' > '.join(first['critical_path'])})",
        ),
        Figure(
            f"{name}_ratio_to_bound",
            "scan",
            "x bound",
            values("ratio"),
            target=1.2 if big else None,
            note="wall / bound, per run",
        ),
        Figure(
            f"{name}_cpu_ms_per_request",
            "scan",
            "ms",
            values("cpu_ms_per_http_request"),
            target=None if big else 1.2,
            note=f"scan process user+sys CPU / HTTP requests: {first['arm_attempts']} ARM incl. 429s + "
            f"{first['blob_listings']} blob listings; per ARM request alone "
            f"{first['cpu_ms_per_arm_request']:.2f} ms",
        ),
        Figure(
            f"{name}_requests_in_flight",
            "scan",
            "requests",
            values("in_flight"),
            note="time-weighted at the simulator; subscriptions in flight "
            f"{first['subscriptions_in_flight']:.1f}",
        ),
        Figure(
            f"{name}_throttled_share",
            "scan",
            "share",
            values("throttled_share"),
            target=0.01 if big else None,
            comparison="<",
            note=f"429 answers / ARM requests; {first['throttled']} x 429 in run 1",
        ),
        Figure(
            f"{name}_peak_rss_mb",
            "scan",
            "MB",
            values("peak_rss_mb"),
            target=300.0 if big else None,
            comparison="<",
            note="scan process only (the simulator excluded), results streamed; "
            f"{first['startup_peak_rss_mb']:.0f} MB before the scan started (imports, clients)",
        ),
        Figure(
            f"{name}_unknown_findings",
            "scan",
            "findings",
            values("unknown_findings"),
            target=0.0,
            note="findings left unknown because a read failed for good (must be 0)",
        ),
        Figure(
            f"{name}_reads_per_target",
            "scan",
            "reads/target",
            values("reads_per_target"),
            target=3.0,
            note="ARM reads ARM granted, per target (per-subscription and per-vault listings included)",
        ),
        Figure(
            f"{name}_blob_reads_per_target",
            "scan",
            "reads/target",
            values("blob_reads_per_target"),
            note="blob data-plane listings per target (not ARM, not in the bound's bucket term)",
        ),
    ]
    if size.reference:
        figures.append(
            Figure(
                f"{name}_reference_differences",
                "scan",
                "findings",
                values("differences"),
                target=0.0,
                note=f"(target, check, status) differing from a sequential non-bulk run "
                f"({reference_info.get('wall', float('nan')):.1f} s)",
            )
        )
    return figures


def run(*, quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="bench-scan-") as tmp:
        for size in QUICK if quick else FULL:
            figures += run_size(size, Path(tmp))
    return figures
