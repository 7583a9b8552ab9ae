"""``check`` text output: only what does not pass by default, fix commands whole at any width."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle
from shared import ids
from shared.cli import main as cli_main
from tests.engine.conftest import demo_manifest

MANIFEST = demo_manifest()


def run_check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli_main(["check", *argv])
    return code, capsys.readouterr().out


def json_report(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "r.json"
    cli_main(["check", "--format", "json", "--output", str(out)])
    return dict(json.loads(out.read_text()))


def test_default_table_lists_only_what_does_not_pass(
    cli_env: SimHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, text = run_check(capsys)
    assert code == 1
    lines = text.splitlines()
    titles = {line.split(" -> ")[0] for line in lines if " -> " in line and not line.startswith(" ")}
    with_issues = {t["cluster"] for t in MANIFEST["targets"] if t["fail"] or t["warn"]}
    assert titles == with_issues  # clean targets are counted, not listed
    statuses = [
        line.split()[0]
        for line in lines
        if line.startswith("  ") and line[2] != " " and line.split()[0] not in ("cluster", "vault")
    ]
    assert set(statuses) == {"FAIL", "WARN"}  # no pass, no n/a (and the demo has no unknown)
    expected_fail = sum(len(t["fail"]) for t in MANIFEST["targets"])
    assert statuses.count("FAIL") == expected_fail
    clean = len(MANIFEST["targets"]) - len(with_issues)
    assert f"{clean} target(s) pass every check" in text
    assert lines[-1].startswith(f"{len(MANIFEST['targets'])} targets, ")


def test_fix_commands_print_whole_on_their_own_line_at_80_columns(
    cli_env: SimHandle, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    report = json_report(tmp_path)
    commands = {
        f["fix"]["command"]
        for t in report["targets"]
        for f in t["findings"]
        if f["status"] in ("fail", "warn") and f["fix"] and f["fix"]["command"]
    }
    assert commands and any(len(c) > 80 for c in commands)
    monkeypatch.setenv("COLUMNS", "80")
    _, text = run_check(capsys)
    stripped = {line.strip() for line in text.splitlines()}
    assert commands <= stripped
    # prose wraps at the width: only commands, ids and links (which must stay whole) run longer
    long_prose = [
        line
        for line in text.splitlines()
        if len(line) > 80
        and line.strip() not in commands
        and not line.split()[-1].startswith(("/subscriptions/", "https://"))
        and not any(word.startswith("/subscriptions/") and len(word) > 60 for word in line.split())
    ]
    assert long_prose == []


def test_all_lists_every_check_and_each_target_has_counts(
    cli_env: SimHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run_check(capsys, "--all")
    assert code == 1
    titles = [line for line in text.splitlines() if " -> " in line and not line.startswith(" ")]
    assert len(titles) == len(MANIFEST["targets"])
    assert all(" pass" in title for title in titles)
    assert any(line.split()[:1] == ["pass"] for line in text.splitlines())


def test_selected_vault_and_cluster_must_exist(
    cli_env: SimHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = MANIFEST["targets"][0]
    sub, rg = ids.subscription_of(entry["cluster_id"]), "rg-typo"
    vault = (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.DataProtection/backupVaults/bv-typo"
    )
    cluster = (
        f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/x"
    )
    for flag, value in (("--vault", vault), ("--cluster", cluster)):
        capsys.readouterr()
        assert cli_main(["check", flag, value]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.count("\n") == 1 and value in captured.err and "does not exist" in captured.err
    code, _ = run_check(capsys, "--vault", entry["vault_id"])
    assert code in (0, 1, 3)
