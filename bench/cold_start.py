"""Cold start: importing ``function_app`` and indexing its functions, in fresh interpreters.

Each sample is a new ``python -c`` process that times (``perf_counter``, in-process, so the
interpreter's own start-up is excluded) either ``import function_app; app.get_functions()`` or
``import azure.functions`` alone. The figure is the median of each, and their ratio.
"""

from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
from pathlib import Path

from bench.common import progress
from bench.report import Figure

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
APP = (
    "import time; t = time.perf_counter(); import function_app; "
    "n = len(function_app.app.get_functions()); print(time.perf_counter() - t)"
)
BASELINE = "import time; t = time.perf_counter(); import azure.functions; print(time.perf_counter() - t)"


def sample(code: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


def run(*, quick: bool = False) -> list[Figure]:
    runs = 3 if quick else 7
    app: list[float] = []
    base: list[float] = []
    for _ in range(runs):  # interleaved, so drift in machine load hits both alike
        app.append(sample(APP))
        base.append(sample(BASELINE))
    ratios = [a / b for a, b in zip(app, base, strict=True)]
    progress(
        "cold start: app %.3f s, azure.functions %.3f s (x%.1f)",
        statistics.median(app),
        statistics.median(base),
        statistics.median(app) / statistics.median(base),
    )
    return [
        Figure(
            "cold_start_import_index_seconds",
            "cold_start",
            "s",
            app,
            target=1.0,
            comparison="<",
            note="import function_app + get_functions(), fresh process",
        ),
        Figure("cold_start_azure_functions_seconds", "cold_start", "s", base, note="import azure.functions"),
        Figure("cold_start_ratio", "cold_start", "x", ratios, note="per-run ratio app / azure.functions"),
    ]
