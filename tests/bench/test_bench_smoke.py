"""`python -m bench --quick` runs end to end and reports every figure (so CI catches a broken bench)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "cold_start_import_index_seconds",
    "cold_start_azure_functions_seconds",
    "cold_start_ratio",
    "event_to_fix_p50_seconds",
    "event_to_fix_p95_seconds",
    "event_arm_calls_per_event",
    "table_writes_per_unchanged_target_session",
    "table_requests_per_unchanged_target_session",
    "table_writes_per_unchanged_target_worker",
    "table_requests_per_unchanged_target_worker",
    "alert_messages_first_scan",
    "alert_per_target_messages_first_scan",
    "alert_digest_bytes_first_scan",
    "alert_messages_event_burst",
    "scan_1k_reference_differences",
} | {
    f"scan_{size}_{what}"
    for size in ("1k", "10k")
    for what in (
        "wall_seconds",
        "bound_seconds",
        "ratio_to_bound",
        "cpu_ms_per_request",
        "requests_in_flight",
        "throttled_share",
        "peak_rss_mb",
        "unknown_findings",
        "reads_per_target",
        "blob_reads_per_target",
    )
}


def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc["figures"]) == FIGURES
    assert doc["machine"]["cores"] and doc["machine"]["python"]
    for name, figure in doc["figures"].items():
        assert figure["runs"] >= 1 and figure["median"] == figure["median"], name  # not NaN
    assert "event_to_fix_p95_seconds" in done.stdout  # the table was printed
    # Both scans and the sequential reference found every target's findings, identically.
    for size in ("1k", "10k"):
        assert doc["figures"][f"scan_{size}_unknown_findings"]["median"] == 0
    assert doc["figures"]["scan_1k_reference_differences"]["median"] == 0
    scan_runs = doc["figures"]["scan_1k_wall_seconds"]["extra"]["runs_detail"]
    assert scan_runs[0]["critical_path"][-1] == "blob_listing"
    assert not scan_runs[0]["unclassified_templates"]
