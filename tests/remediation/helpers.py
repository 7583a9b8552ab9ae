"""Shared helpers for the remediation tests against the Azure simulator (plain functions, no fixtures)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from localdev.azure_sim.launcher import SimHandle
from shared.arm import ArmClients
from shared.model import Target
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "localdev" / "estates" / "demo.yaml"
EXPECTED = ROOT / "localdev" / "estates" / "demo.expected.yaml"
WRITE_METHODS = ("PUT", "PATCH", "POST", "DELETE")


def demo_estate() -> dict[str, Any]:
    return dict(yaml.safe_load(DEMO.read_text(encoding="utf-8")))


def expected() -> dict[str, Any]:
    return dict(yaml.safe_load(EXPECTED.read_text(encoding="utf-8")))


def subscriptions(estate: dict[str, Any] | None = None) -> list[str]:
    return [str(s["id"]) for s in (estate or demo_estate())["subscriptions"]]


def settings_for(sim: SimHandle, **env: str) -> Settings:
    base = {
        "GUARD_SUBSCRIPTIONS": ",".join(subscriptions()),
        "GUARD_MODE": "enforce",
        "GUARD_PRINCIPAL_RETRY_SECONDS": "20",
        "GUARD_PROVIDER_WAIT_SECONDS": "10",
        **sim.env(),
    }
    return Settings.from_env({**base, **env})


def clients_for(settings: Settings) -> ArmClients:
    return ArmClients(settings.arm)


def writes(sim: SimHandle) -> int:
    """ARM write requests (PUT/PATCH/POST/DELETE) the simulator served since the last reset."""
    by_method = sim.requests(log=False)["by_method"]
    return sum(int(by_method.get(m, 0)) for m in WRITE_METHODS)


def successful_writes(sim: SimHandle) -> int:
    """Write requests that succeeded (a PrincipalNotFound 400 before a retry is an attempt, not a write)."""
    log = sim.requests(log=True)["log"]
    return sum(1 for entry in log if entry["method"] in WRITE_METHODS and int(entry["status"]) < 400)


def target(name: str) -> Target:
    """The demo target whose cluster is ``name`` (from the expectations manifest)."""
    for item in expected()["targets"]:
        if item["cluster"] == name:
            return Target(item["cluster_id"], item["vault_id"], item["kind"], item.get("backup_instance_id"))
    raise KeyError(name)


def with_guard_rbac_admin_except(
    estate: dict[str, Any], subscription: str, excluded_rg: str
) -> dict[str, Any]:
    """A copy of ``estate`` whose Guard holds its (ABAC-conditioned) RBAC Administrator on every
    resource group of ``subscription`` except ``excluded_rg``, instead of on the subscription."""
    estate = copy.deepcopy(estate)
    guard = estate["guard"]["principal_id"].lower()
    sub_scope = f"/subscriptions/{subscription}".lower()
    kept, admin = [], None
    for ra in estate["role_assignments"]:
        if (
            str(ra.get("principal_id", "")).lower() == guard
            and str(ra.get("scope", "")).lower() == sub_scope
            and ra.get("role") == "Role Based Access Control Administrator"
        ):
            admin = ra
            continue
        kept.append(ra)
    assert admin is not None
    sub = next(s for s in estate["subscriptions"] if s["id"] == subscription)
    for rg in sub["resource_groups"]:
        if rg["name"].lower() != excluded_rg.lower():
            kept.append({**admin, "scope": f"/subscriptions/{subscription}/resourceGroups/{rg['name']}"})
    estate["role_assignments"] = kept
    return estate


def set_replication_delay(estate: dict[str, Any], principal_id: str, seconds: float) -> dict[str, Any]:
    estate = copy.deepcopy(estate)
    for principal in estate["principals"]:
        if principal["id"].lower() == principal_id.lower():
            principal["replicate_after_seconds"] = seconds
            return estate
    raise KeyError(principal_id)
