"""``aks-backup-guard drift`` against Azurite, through its own argument parser."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from localdev.azurite import Azurite
from shared.cli import build_parser
from shared.model import Outcome, Status, Trigger
from tests.ledger.helpers import T0, finding, hours, target
from tests.ledger.support import make_ledger, unique_prefix

A = "role.vault-reader-on-cluster"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["drift", *argv])


@pytest.fixture
def env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> str:
    prefix = unique_prefix()
    monkeypatch.setenv("GUARD_STORAGE_CONNECTION", azurite.connection_string)
    monkeypatch.setenv("GUARD_TABLE_PREFIX", prefix)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    return prefix


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    args = parse(*argv)
    code = args.handler(args, out=out)
    return code, out.getvalue()


def test_drift_before_anything_is_recorded(env: str) -> None:
    code, text = run()
    assert code == 0 and text.startswith("No targets recorded in the ledger yet")
    assert run("--format", "json") == (0, '{\n  "targets": []\n}\n')


def test_drift_current_and_history(azurite: Azurite, env: str) -> None:
    ledger = make_ledger(azurite, prefix=env)
    t1, t2 = target(1), target(2)
    ledger.record(t1, [finding(A, Status.PASS)], trigger=Trigger("scan", "s1"), now=T0)
    ledger.record(t2, [finding(A, Status.PASS)], trigger=Trigger("scan", "s1"), now=T0)
    ledger.record(t1, [finding(A, Status.FAIL)], trigger=Trigger("event", "evt-9"), now=T0 + hours(1))
    ledger.record(
        t1,
        [finding(A, Status.PASS)],
        outcomes=[Outcome("ra", A, "applied", "assigned Reader")],
        trigger=Trigger("cli", "alice"),
        now=T0 + hours(2),
    )
    ledger.record(t2, [finding(A, Status.FAIL)], trigger=Trigger("event", "evt-10"), now=T0 + hours(3))

    code, text = run()
    assert code == 0
    # only the target with drift is listed, its failing check on a line of its own
    assert "aks-2" in text and "aks-1 ->" not in text
    assert any(line.split()[:2] == ["FAIL", A] for line in text.splitlines())
    assert "2 targets recorded, 1 with drift" in text

    code, text = run("--format", "json")
    data = json.loads(text)
    assert [t["worst"] for t in data["targets"]] == ["pass", "fail"]
    assert data["targets"][1]["checks"][A]["status"] == "fail"

    code, text = run("--target", t1.cluster_id, "--history", "--format", "json")
    (history,) = json.loads(text)["history"].values()
    assert [(h["type"], h["trigger"]["kind"]) for h in history] == [
        ("transition", "event"),
        ("transition", "cli"),
        ("action", "cli"),
    ]
    code, text = run("--target", f"{t1.cluster_id.upper()}|{t1.vault_id}", "--history")
    assert code == 0 and "fixed-by-guard" in text and "cli alice" in text


def test_drift_usage_and_config_errors(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("--history")[0] == 2
    assert "--history needs --target" in capsys.readouterr().err
    assert run("--target", "not-an-id")[0] == 2
    assert "--target must be" in capsys.readouterr().err
    monkeypatch.setenv("GUARD_STORAGE_CONNECTION", "AccountKey=c2VjcmV0LWtleQ==;nonsense")
    assert run()[0] == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "c2VjcmV0LWtleQ" not in err
