"""Chaos suite wiring: the Function App against real peers, and a capture of every log record.

Every record logged anywhere while this package's tests run (root logger at DEBUG) is kept, so the last module
(``test_zz_secret_scan``) can assert that no secret the suite handed out ever reached a log.
Scenarios register their secrets with :func:`remember_secret`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from localdev.azure_sim.launcher import SimHandle
from localdev.azurite import ACCOUNT_KEY, Azurite
from localdev.host import LocalHost
from shared import orchestration
from shared.events import OBJECT_ID_CLAIM
from shared.roles import BUILTIN_ROLES
from shared.settings import Settings
from shared.workqueue import QUEUES

API = "api-version=2022-04-01"
READER = BUILTIN_ROLES["Reader"]
WRITE = "Microsoft.Authorization/roleAssignments/write"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)  # includes the traceback text of exc_info
        except Exception:  # a record that cannot format is kept raw, never dropped
            text = f"{record.msg!r} {record.args!r}"
        extra = " ".join(
            f"{k}={v!r}" for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")
        )
        self.lines.append(f"{text} {extra}".rstrip())


_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
CAPTURE = _Capture()
SECRETS: dict[str, str] = {"Azurite account key": ACCOUNT_KEY}


def remember_secret(name: str, value: str) -> None:
    SECRETS[name] = value


@pytest.fixture(scope="package", autouse=True)
def capture_all_logs() -> Iterator[_Capture]:
    root = logging.getLogger()
    previous = root.level
    root.addHandler(CAPTURE)
    root.setLevel(logging.DEBUG)
    try:
        yield CAPTURE
    finally:
        root.removeHandler(CAPTURE)
        root.setLevel(previous)


@dataclass
class App:
    sim: SimHandle
    host: LocalHost
    services: orchestration.Services
    estate: dict[str, Any]

    @property
    def guard(self) -> str:
        return str(self.estate["guard"]["principal_id"]).lower()

    def guard_writes(self, since: int) -> list[dict[str, Any]]:
        return [
            e
            for e in self.sim.events(since=since)
            if str(e["data"].get("claims", {}).get(OBJECT_ID_CLAIM, "")).lower() == self.guard
        ]


def build_app(sim: SimHandle, azurite: Azurite, estate: dict[str, Any], **env: str) -> App:
    """Services as the Functions host would build them from settings; queues emptied first."""
    import function_app

    remember_secret("simulator bearer token", sim.token)
    if sim.admin_token:
        remember_secret("simulator admin token", sim.admin_token)
    values = {
        **sim.env(),
        "GUARD_SUBSCRIPTIONS": ",".join(str(s["id"]) for s in estate["subscriptions"]),
        "GUARD_MODE": "enforce",
        "GUARD_DEBOUNCE_SECONDS": "0",
        "GUARD_PRINCIPAL_RETRY_SECONDS": "10",
        "GUARD_PRINCIPAL_ID": str(estate["guard"]["principal_id"]),
        "GUARD_TABLE_PREFIX": "c" + uuid.uuid4().hex[:10],
        "AzureWebJobsStorage": azurite.connection_string,
        **env,
    }
    svc = orchestration.Services.build(Settings.from_env(values))
    assert svc.queue is not None
    for name in QUEUES:
        svc.queue.client(name).clear_messages()
    orchestration.use_services(svc)
    return App(sim, LocalHost(function_app.app, azurite.connection_string), svc, estate)


def list_assignments(sim: SimHandle, scope: str, *, at_scope: bool = False) -> list[dict[str, Any]]:
    """Every role assignment at/above/below ``scope`` (all pages), read as the administrator."""
    path: str | None = f"{scope}/providers/Microsoft.Authorization/roleAssignments?{API}"
    if at_scope:
        path = f"{path}&$filter=atScope()"
    out: list[dict[str, Any]] = []
    while path:
        status, _, body = sim.call("GET", path, token=sim.admin_token)
        assert status == 200, body
        out.extend(body["value"])
        link = body.get("nextLink")
        path = link[len(sim.endpoint) :] if link else None
    return out


def delete_vault_readers(sim: SimHandle, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Delete the vault identity's Reader on each cluster as an administrator; returns the events."""
    mark = len(sim.events())
    for cluster_id, vault_id in pairs:
        vault = sim.state(vault_id)
        assert vault is not None, vault_id
        principal = str(vault["identity"]["principalId"]).lower()
        for ra in list_assignments(sim, cluster_id, at_scope=True):
            props = ra["properties"]
            if (
                props["principalId"].lower() == principal
                and props["scope"].lower() == cluster_id.lower()
                and props["roleDefinitionId"].lower().endswith(READER)
            ):
                code, _, _ = sim.call("DELETE", f"{ra['id']}?{API}", token=sim.admin_token)
                assert code in (200, 204), code
    return sim.events(since=mark)


def assignment_triples(assignments: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (
            a["properties"]["scope"].lower(),
            a["properties"]["principalId"].lower(),
            a["properties"]["roleDefinitionId"].lower().rsplit("/", 1)[-1],
        )
        for a in assignments
    ]
