"""The Function App indexes, and each HTTP route answers through real azure.functions objects."""

from __future__ import annotations

import json

import azure.functions as func
import pytest


def test_app_indexes_health_route() -> None:
    import function_app

    from localdev.host import indexed_functions

    functions = {f.get_function_name(): f for f in indexed_functions(function_app.app)}
    assert "health" in functions
    trigger = functions["health"].get_trigger()
    assert trigger is not None
    binding = trigger.get_dict_repr()
    assert binding["type"] == "httpTrigger"
    assert binding["route"] == "health"
    assert str(binding["authLevel"]).lower().endswith("function")


def _call_health() -> func.HttpResponse:
    from handlers.http import health

    req = func.HttpRequest(method="GET", url="http://localhost/api/health", body=b"")
    return health(req)


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
