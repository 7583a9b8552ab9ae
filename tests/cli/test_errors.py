"""Exit codes CI can trust and one-line errors: authentication, reachability, bad input.

Each case asserts the exit code, that stdout stays empty where nothing was verified, and that
stderr is exactly one line naming the cause (never a traceback)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from localdev.azure_sim.launcher import SimHandle
from shared.cli import main as cli_main
from tests.engine.conftest import demo_manifest

MANIFEST = demo_manifest()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert captured.err.count("\n") == 1, captured.err
    return captured.err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: connections are refused


@pytest.mark.parametrize("command", [["check"], ["remediate", "--dry-run"]])
def test_rejected_token_exits_2_with_the_remedy(
    cli_env: SimHandle,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.setenv("GUARD_ARM_TOKEN", "not-a-token-the-simulator-knows")
    assert cli_main(command) == 2
    err = one_line_error(capsys)
    assert "HTTP 401 InvalidAuthenticationToken" in err and "GUARD_ARM_TOKEN" in err
    assert "not-a-token" not in err


def test_no_credential_exits_2_with_az_login(
    cli_env: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GUARD_ARM_TOKEN")
    for name in ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_CONFIG_DIR", "/nonexistent-az-config")  # no az login state to find
    assert cli_main(["check"]) == 2
    err = one_line_error(capsys)
    assert "az login" in err


def test_unreachable_endpoint_exits_2(
    cli_env: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("GUARD_ARM_ENDPOINT", f"https://127.0.0.1:{closed_port()}")
    assert cli_main(["check"]) == 2
    err = one_line_error(capsys)
    assert "cannot reach ARM" in err and "GUARD_ARM_ENDPOINT" in err
    events = tmp_path / "e.json"
    events.write_text("[]")
    assert cli_main(["replay-event", str(events)]) == 2
    assert "cannot reach ARM" in one_line_error(capsys)


def test_endpoint_that_accepts_and_never_answers_exits_2(
    cli_env: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The kernel completes the TCP handshake, nobody speaks TLS: the probe's bounded timeouts
    (not the read-retry budget) end it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        monkeypatch.setenv("GUARD_ARM_ENDPOINT", f"https://127.0.0.1:{silent.getsockname()[1]}")
        assert cli_main(["check"]) == 2
    assert "cannot reach ARM" in one_line_error(capsys)


def test_replay_bad_input_exits_2_in_one_line(
    cli_env: SimHandle, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cases = {
        "latin1.json": ("caf\xe9".encode("latin-1"), "not UTF-8"),
        "broken.json": (b'{"id": ', "not JSON"),
        "missing.json": (None, "cannot read"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        assert cli_main(["replay-event", str(path)]) == 2, name
        assert expected in one_line_error(capsys), name


def test_replay_exits_2_when_it_verified_nothing_and_says_why(
    cli_env: SimHandle, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    unwatched = "00000000-0000-0000-0000-0000000000aa"
    event = {
        "id": "e-1",
        "topic": f"/subscriptions/{unwatched}",
        "subject": f"/subscriptions/{unwatched}/resourceGroups/rg",
        "eventType": "Microsoft.Resources.ResourceWriteSuccess",
        "eventTime": "2026-01-01T00:00:00Z",
        "data": {"operationName": "Microsoft.Resources/subscriptions/resourceGroups/write"},
        "dataVersion": "",
        "metadataVersion": "1",
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    assert cli_main(["replay-event", str(path)]) == 2
    captured = capsys.readouterr()
    assert "verified nothing" in captured.err and unwatched in captured.err
    assert "0 verification(s)" in captured.out


def test_verbose_flag_is_accepted_anywhere(cli_env: SimHandle, capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["-v", "check", "--vault", "x"],
        ["check", "--vault", "x", "-v"],
        ["check", "-vv", "--vault", "x"],
    ):
        assert cli_main(argv) == 2
        assert "--vault must be" in capsys.readouterr().err


def test_unwritable_output_is_one_line(
    cli_env: SimHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # a directory where the report file should go
    assert cli_main(["check", "--output", str(tmp_path)]) == 2
    assert "--output" in one_line_error(capsys)
