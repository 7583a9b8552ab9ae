"""The Function App indexes with exactly the bindings the infra and host.json expect."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import pytest

from localdev.host import indexed_functions

EXPECTED: dict[str, dict[str, Any]] = {
    "health": {"type": "httpTrigger", "route": "health", "methods": ["GET"]},
    "drift": {"type": "httpTrigger", "route": "drift", "methods": ["GET"]},
    "drift_target": {"type": "httpTrigger", "route": "drift/{*target}", "methods": ["GET"]},
    "verify": {"type": "httpTrigger", "route": "verify", "methods": ["POST"]},
    "report": {"type": "httpTrigger", "route": "report", "methods": ["GET"]},
    "remediate": {"type": "httpTrigger", "route": "remediate", "methods": ["POST"]},
    "guard_events": {"type": "eventGridTrigger"},
    "guard_scan": {"type": "timerTrigger", "schedule": "%DRIFT_SCAN_SCHEDULE%"},
    "guard_worker": {
        "type": "queueTrigger",
        "queueName": "guard-targets",
        "connection": "AzureWebJobsStorage",
    },
    "guard_poison": {
        "type": "queueTrigger",
        "queueName": "guard-targets-poison",
        "connection": "AzureWebJobsStorage",
    },
    "guard_alerts": {
        "type": "queueTrigger",
        "queueName": "guard-alerts",
        "connection": "AzureWebJobsStorage",
    },
    "guard_alerts_timer": {"type": "timerTrigger", "schedule": "0 */2 * * * *"},
}


def bindings() -> dict[str, dict[str, Any]]:
    import function_app

    out = {}
    for fn in indexed_functions(function_app.app):
        trigger = fn.get_trigger()
        assert trigger is not None
        out[fn.get_function_name()] = trigger.get_dict_repr()
    return out


def test_every_function_and_binding() -> None:
    found = bindings()
    assert set(found) == set(EXPECTED)
    for name, expected in EXPECTED.items():
        binding = found[name]
        for key, value in expected.items():
            actual = binding[key]
            if key == "methods":
                actual = sorted(str(m).split(".")[-1].upper() for m in actual)
            assert actual == value, (name, key, actual)
        if binding["type"] == "httpTrigger":
            assert str(binding["authLevel"]).lower().endswith("function"), name


def test_queue_names_match_host_json_poison_convention() -> None:
    with open("host.json", encoding="utf-8") as fh:
        host = json.load(fh)
    assert host["extensions"]["queues"]["maxDequeueCount"] == 5
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    found = bindings()
    assert found["guard_poison"]["queueName"] == found["guard_worker"]["queueName"] + "-poison"


def _call_health() -> func.HttpResponse:
    from handlers.http import health

    return health(func.HttpRequest(method="GET", url="http://localhost/api/health", body=b""))


def test_health_reports_misconfiguration_without_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUARD_SUBSCRIPTIONS", raising=False)
    monkeypatch.setenv("GUARD_SMTP_PASSWORD", "hunter2-secret")
    resp = _call_health()
    assert resp.status_code == 503
    body = json.loads(resp.get_body())
    assert "GUARD_SUBSCRIPTIONS" in body["problem"]
    assert "hunter2" not in resp.get_body().decode()


def test_health_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_SUBSCRIPTIONS", "0b1f6471-1bf0-4dda-aec3-111111111111")
    monkeypatch.setenv("GUARD_MODE", "enforce")
    resp = _call_health()
    assert resp.status_code == 200
    assert json.loads(resp.get_body())["mode"] == "enforce"
