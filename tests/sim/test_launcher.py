"""The command line prints its ready line; the launcher always stops the simulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from localdev.azure_sim.launcher import running_simulator
from tests.sim.helpers import ESTATE


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers signal 0; the launcher reaps its child, so treat it as gone
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def test_cli_prints_the_ready_line_and_writes_the_ready_file(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "localdev.azure_sim", "--estate", str(ESTATE), "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        info = json.loads(line)
        assert info["endpoint"].startswith("https://127.0.0.1:")
        assert Path(info["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
        assert info["token"] == "sim-guard-token"
        assert info["admin_token"] == "sim-admin-token"
        assert json.loads(ready.read_text()) == info
        assert not ready.with_name("ready.json.tmp").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    assert not Path(info["ca_bundle"]).exists()  # the CA is removed on exit


def test_launcher_kills_the_simulator_even_when_the_body_raises() -> None:
    pid = 0
    with pytest.raises(RuntimeError), running_simulator({"subscriptions": []}) as sim:
        pid = sim.pid
        assert sim.admin_token is None
        assert sim.env()["GUARD_ARM_ENDPOINT"] == sim.endpoint
        raise RuntimeError("boom")
    deadline = time.monotonic() + 5
    while _alive(pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_launcher_reports_a_bad_estate() -> None:
    with (
        pytest.raises(RuntimeError, match="exited"),
        running_simulator(
            {"role_assignments": [{"scope": "/", "principal_id": "x", "role": "No Such Role"}]}
        ),
    ):
        pass
