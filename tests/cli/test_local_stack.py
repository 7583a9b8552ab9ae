"""``python -m localdev.stack`` fills a local ledger with one scan, as the README tells operators."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.engine.conftest import demo_manifest

ROOT = Path(__file__).resolve().parents[2]


def test_local_stack_fills_the_ledger_with_every_demo_target() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "localdev.stack", "--exit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"ledger filled: {len(demo_manifest()['targets'])} targets recorded" in done.stdout
    env = (ROOT / ".run" / "stack.env").read_text(encoding="utf-8")
    assert "export AzureWebJobsStorage=" in env and "export GUARD_ARM_ENDPOINT=" in env
