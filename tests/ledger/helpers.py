"""Literal test data: targets and findings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.model import Finding, Fix, Status, Target

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
SUB = "00000000-0000-0000-0000-0000000000a1"


def target(n: int = 1, sub: str = SUB) -> Target:
    rg = f"/subscriptions/{sub}/resourceGroups/rg-{n}"
    return Target(
        cluster_id=f"{rg}/providers/Microsoft.ContainerService/managedClusters/aks-{n}",
        vault_id=f"/subscriptions/{sub}/resourceGroups/rg-backup/providers/Microsoft.DataProtection/backupVaults/bv",
    )


def finding(check: str, status: Status, detail: str = "") -> Finding:
    fix = None
    if status in (Status.FAIL, Status.WARN):
        fix = Fix(
            summary=f"Repair {check}",
            command=f"az role assignment create --role Reader  # {check}",
            doc="https://learn.microsoft.com/azure/backup/azure-kubernetes-service-cluster-backup-concept",
        )
    return Finding(check, status, detail or f"{check} is {status}", fix)


def hours(n: float) -> timedelta:
    return timedelta(hours=n)
