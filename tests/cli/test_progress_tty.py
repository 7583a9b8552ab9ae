"""The progress line on a real pseudo-terminal: drawn on stderr, erased before every line of the
report, never left behind; and nothing of it when stderr is a pipe."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

from localdev.azure_sim.launcher import SimHandle

ERASE = "\r\x1b[2K"
CLI = [sys.executable, "-c", "import sys; from shared.cli import main; sys.exit(main(sys.argv[1:]))", "check"]


def run_on_pty(env: dict[str, str]) -> tuple[int, str]:
    master, slave = pty.openpty()
    proc = subprocess.Popen(CLI, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")


def test_progress_is_transient_on_a_terminal_and_absent_when_piped(cli_env: SimHandle) -> None:
    env = {**os.environ, "GUARD_PROGRESS_DELAY_SECONDS": "0", "COLUMNS": "100"}
    code, text = run_on_pty(env)
    assert code == 1
    drawn = re.findall(r"verifying \d+/\d+ targets \(\d+ s\)", text)
    assert drawn, "no progress line was drawn on the terminal"
    # every drawing is erased before anything else is written: no report text follows it directly
    assert re.findall(r"targets \(\d+ s\)(?!\r\x1b\[2K)(?!$).", text, re.DOTALL) == []
    # what the screen shows at the end: no progress line left behind
    screen = [line.split(ERASE)[-1] for line in text.split("\n")]
    assert not [line for line in screen if "verifying" in line]
    assert any(line.startswith("27 targets") or " targets, " in line for line in screen)

    piped = subprocess.run(CLI, capture_output=True, text=True, env=env, timeout=120)
    assert piped.returncode == 1 and piped.stderr == "" and "\x1b" not in piped.stdout
