"""The shipped estates: demo.yaml is consistent with itself and with demo.expected.yaml, and the
generator is deterministic and shaped as documented.

The manifest is checked against the estate by recomputing, from the estate file alone, what each
target should report (an independent reading of the prerequisites), so an edit to one file
without the other fails here rather than in a colleague's end-to-end test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.estates.generate import (
    GUARD_PRINCIPAL,
    GUARD_RBAC_CONDITION,
    MATRIX_ROLE_GUIDS,
    REMEDIATOR_ACTIONS,
    REMEDIATOR_ROLE_ID,
    dump,
    generate_estate,
)

ESTATES = Path(__file__).resolve().parents[2] / "localdev" / "estates"

DOCUMENTED_CHECK_IDS = (
    "cluster.identity",
    "cluster.kubernetes-version",
    "cluster.kubernetes-version-supported",
    "cluster.linux-node-pool",
    "cluster.disk-csi-driver",
    "cluster.snapshot-controller",
    "subscription.kubernetes-configuration-registered",
    "extension.installed",
    "extension.storage-location",
    "storage.network-access",
    "storage.account-supported",
    "locks.snapshot-rg-unlocked",
    "locks.storage-not-read-only",
    "storage.container-dedicated",
    "storage.container-not-shared",
    "storage.shared-key-access",
    "trusted-access.binding",
    "trusted-access.binding-limit",
    "trusted-access.stale-bindings",
    "vault.identity",
    "vault.tier-region-supported",
    "role.vault-reader-on-cluster",
    "role.vault-reader-on-snapshot-rg",
    "role.cluster-contributor-on-snapshot-rg",
    "role.extension-blob-contributor-on-storage",
    "role.vault-disk-operator-on-snapshot-rg",
    "role.vault-snapshot-contributor-on-snapshot-rg",
    "role.vault-blob-reader-on-storage",
    "role.vault-contributor-on-staging-rg",
    "role.vault-account-contributor-on-staging-storage",
    "role.vault-blob-owner-on-staging-storage",
    "cluster.velero-absent",
    "policy.namespace-excluded",
    "network.egress",
    "network.nsg-service-tags",
    "backup.protection",
    "backup.recent-jobs",
    "restore-target.extension",
)
WARN_CHECKS = {
    "backup.recent-jobs",  # "not yet run"
    "trusted-access.stale-bindings",
    "storage.container-dedicated",
    "storage.shared-key-access",
    "policy.namespace-excluded",
    "network.egress",
    "network.nsg-service-tags",
}
GUARD_FIXES = {
    "trusted-access.binding",
    "subscription.kubernetes-configuration-registered",
    "storage.network-access",
}
CLUSTER_FIXES = {
    "cluster.disk-csi-driver",
    "cluster.snapshot-controller",
    "extension.installed",
    "restore-target.extension",
}
ROLE_GUIDS = {
    "Reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
    "Contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "Storage Blob Data Contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "Data Operator for Managed Disks": "959f8984-c045-4866-89c7-12bf9737be2e",
    "Disk Snapshot Contributor": "7efff54f-a5b4-42b5-a1c5-5411624893ce",
    "Storage Blob Data Reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "Storage Account Contributor": "17d1049b-9a84-46fb-8f53-869881c3d3ab",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Role Based Access Control Administrator": "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
}
BACKUP_PREFIXES = {"backups", "restores", "kopia", "restic", "plugins", "metadata", "velero"}


def _load(name: str) -> Any:
    with (ESTATES / name).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    return _load("demo.yaml")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return _load("demo.expected.yaml")


MG_PREFIX = "/providers/Microsoft.Management/managementGroups/"

# ---------------------------------------------------------------- an index of the estate by id


class Index:
    """Resources of an estate by lower-cased ARM id, built the way the schema builds ids."""

    def __init__(self, estate: dict[str, Any]) -> None:
        self.estate = estate
        self.subs: dict[str, dict[str, Any]] = {}
        self.rgs: dict[str, dict[str, Any]] = {}
        self.clusters: dict[str, dict[str, Any]] = {}
        self.vaults: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self.nsgs: dict[str, dict[str, Any]] = {}
        self.subnet_nsg: dict[str, str] = {}
        self.sub_of: dict[str, str] = {}
        self.location: dict[str, str] = {}  # cluster and storage account id -> region (the RG's by default)
        for sub in estate.get("subscriptions") or []:
            sub_id = f"/subscriptions/{sub['id']}"
            self.subs[sub_id.lower()] = sub
            for rg in sub.get("resource_groups") or []:
                rg_id = f"{sub_id}/resourceGroups/{rg['name']}"
                self.rgs[rg_id.lower()] = rg
                for c in rg.get("clusters") or []:
                    self.location[
                        f"{rg_id}/providers/Microsoft.ContainerService/managedClusters/{c['name']}".lower()
                    ] = str(c.get("location") or rg.get("location", ""))
                    self._add(
                        self.clusters,
                        f"{rg_id}/providers/Microsoft.ContainerService/managedClusters",
                        c,
                        sub_id,
                    )
                for v in rg.get("vaults") or []:
                    self.location[
                        f"{rg_id}/providers/Microsoft.DataProtection/backupVaults/{v['name']}".lower()
                    ] = str(v.get("location") or rg.get("location", ""))
                    self._add(
                        self.vaults, f"{rg_id}/providers/Microsoft.DataProtection/backupVaults", v, sub_id
                    )
                for a in rg.get("storage_accounts") or []:
                    self.location[
                        f"{rg_id}/providers/Microsoft.Storage/storageAccounts/{a['name']}".lower()
                    ] = str(a.get("location") or rg.get("location", ""))
                    self._add(
                        self.accounts, f"{rg_id}/providers/Microsoft.Storage/storageAccounts", a, sub_id
                    )
                for n in rg.get("network_security_groups") or []:
                    self._add(
                        self.nsgs, f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups", n, sub_id
                    )
                for vnet in rg.get("virtual_networks") or []:
                    vnet_id = f"{rg_id}/providers/Microsoft.Network/virtualNetworks/{vnet['name']}"
                    for subnet in vnet.get("subnets") or []:
                        if subnet.get("nsg"):
                            nsg_id = (
                                f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups/{subnet['nsg']}"
                            )
                            self.subnet_nsg[f"{vnet_id}/subnets/{subnet['name']}".lower()] = nsg_id.lower()
        self.management_groups = {
            f"{MG_PREFIX}{g['name']}".lower(): {
                f"/subscriptions/{s}".lower() for s in g.get("subscriptions") or []
            }
            for g in estate.get("management_groups") or []
        }
        self.definition_defaults = {
            d["id"].lower(): d.get("excluded_namespaces_default")
            for d in estate.get("policy_definitions") or []
        }
        self.assignments = [
            (a["scope"].lower().rstrip("/"), a["principal_id"].lower(), _role_guid(a["role"]))
            for a in estate.get("role_assignments") or []
        ]

    def _add(self, into: dict[str, dict[str, Any]], prefix: str, item: dict[str, Any], sub_id: str) -> None:
        rid = f"{prefix}/{item['name']}".lower()
        assert rid not in into, f"duplicate resource {rid}"
        into[rid] = item
        self.sub_of[rid] = sub_id.lower()

    def covers(self, ancestor: str, scope: str) -> bool:
        """``ancestor`` is ``scope``, a parent of it, or a management group holding its subscription."""
        s, a = scope.lower().rstrip("/"), ancestor.lower().rstrip("/")
        if a in self.management_groups:
            return any(s == sub or s.startswith(sub + "/") for sub in self.management_groups[a])
        return s == a or s.startswith(a + "/")

    def holds(self, scope: str, principal: str, guid: str) -> bool:
        return any(
            p == principal.lower() and r == guid and self.covers(sc, scope) for sc, p, r in self.assignments
        )

    def instances(self) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
        for vault_id, vault in self.vaults.items():
            for bi in vault.get("backup_instances") or []:
                yield vault_id, vault, bi


def _vault_principal(vault: dict[str, Any], bi: dict[str, Any] | None) -> str | None:
    """The principal the vault uses: the instance's user-assigned identity, else the system one."""
    identity = vault["identity"]
    users = {u["resource_id"].lower(): u["principal_id"] for u in identity.get("user_assigned") or []}
    if bi is not None and bi.get("user_assigned_identity"):
        return users.get(bi["user_assigned_identity"].lower())
    if "SystemAssigned" in identity.get("type", ""):
        return identity.get("principal_id")
    return next(iter(users.values())) if len(users) == 1 else None


def _role_guid(role: str) -> str:
    return ROLE_GUIDS.get(role, role.rsplit("/", 1)[-1]).lower()


def _tag(tags: dict[str, str] | None, name: str) -> str | None:
    for key, value in (tags or {}).items():
        if key.lower() == name:
            return value
    return None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


# ---------------------------------------------------------------- an independent reading of the checks


def expected_statuses(ix: Index, target: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """(fail, warn, fail_with_incluster) for one manifest target, from the estate alone."""
    cluster_id, vault_id, kind = target["cluster_id"].lower(), target["vault_id"].lower(), target["kind"]
    c, v = ix.clusters[cluster_id], ix.vaults[vault_id]
    sub = ix.subs[ix.sub_of[cluster_id]]
    fail: set[str] = set()
    warn: set[str] = set()
    identity = c.get("identity") or {}
    principal = (
        identity.get("principal_id") if identity.get("type") in ("SystemAssigned", "UserAssigned") else None
    )
    if principal is None:
        fail.add("cluster.identity")
    if _version(c["kubernetes_version"]) < (1, 21, 1):
        fail.add("cluster.kubernetes-version")
    if not c.get("disk_csi_driver", True):
        fail.add("cluster.disk-csi-driver")
    if not c.get("snapshot_controller", True):
        fail.add("cluster.snapshot-controller")
    if (sub.get("providers") or {}).get("Microsoft.KubernetesConfiguration", "Registered") != "Registered":
        fail.add("subscription.kubernetes-configuration-registered")
    ext = c.get("extension")
    if ext is None or ext.get("provisioning_state", "Succeeded") != "Succeeded":
        fail.add("restore-target.extension" if kind == "restore" else "extension.installed")
    account_id = account = None
    if ext is not None:
        account_id = (
            f"/subscriptions/{ext['storage_subscription_id']}/resourceGroups/{ext['storage_resource_group']}"
            f"/providers/Microsoft.Storage/storageAccounts/{ext['storage_account']}"
        ).lower()
        account = ix.accounts.get(account_id)
        if account is None or ext["container"] not in (account.get("containers") or {}):
            fail.add("extension.storage-location")
    if account is not None and ext is not None:
        acls = account.get("network_acls") or {}
        if (
            acls.get("default_action", "Allow") != "Allow"
            or account.get("public_network_access") == "Disabled"
        ):
            rule = any(r["resource_id"].lower() == vault_id for r in acls.get("resource_access_rules") or [])
            bypass = "azureservices" in [b.strip().lower() for b in str(acls.get("bypass", "")).split(",")]
            if not (rule and bypass):
                fail.add("storage.network-access")
        blobs = (account.get("containers") or {}).get(ext["container"])
        if blobs and any(b.split("/", 1)[0].lower() not in BACKUP_PREFIXES for b in blobs):
            warn.add("storage.container-dedicated")
        if account.get("allow_shared_key_access") is False and not ext.get("use_aad"):
            warn.add("storage.shared-key-access")
    pools = c.get("agent_pools") or [{"vm_size": "Standard_D4s_v5"}]  # the simulator's default pool
    if not any(
        p.get("os_type", "Linux") == "Linux"
        and not re.match(r"^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$", p["vm_size"])
        for p in pools
    ):
        fail.add("cluster.linux-node-pool")
    if account is not None and (
        account.get("kind", "StorageV2") != "StorageV2"
        or not str(account.get("sku", "Standard_LRS")).startswith("Standard_")
        or ix.location[str(account_id)] != ix.location[cluster_id]
    ):
        fail.add("storage.account-supported")
    locks = ix.estate.get("locks") or []
    if account_id and any(
        lock["level"] == "ReadOnly" and account_id.startswith(lock["scope"].lower()) for lock in locks
    ):
        fail.add("locks.storage-not-read-only")
    if kind == "backup":
        bi = next(b for b in v["backup_instances"] if b["cluster_id"].lower() == cluster_id)
        snapshots = str(bi.get("snapshot_resource_group_id", "")).lower()
        if snapshots and any(snapshots.startswith(lock["scope"].lower()) for lock in locks):
            fail.add("locks.snapshot-rg-unlocked")
    bindings = c.get("trusted_access_bindings") or []
    if not any(
        b["source_resource_id"].lower() == vault_id
        and "Microsoft.DataProtection/backupVaults/backup-operator" in b.get("roles", [])
        and b.get("provisioning_state", "Succeeded") == "Succeeded"
        for b in bindings
    ):
        fail.add("trusted-access.binding")
    if c.get("outbound_type") == "userDefinedRouting":
        warn.add("network.egress")
    nsg_id = ix.subnet_nsg.get((c.get("subnet_id") or "").lower())
    if nsg_id:
        inbound = sorted(
            (r for r in ix.nsgs[nsg_id]["rules"] if r["direction"] == "Inbound"), key=lambda r: r["priority"]
        )
        for tag in ("AzureBackup", "AzureCloud"):
            first = next((r for r in inbound if r["source"] in (tag, "*", "Internet", "Any")), None)
            if first is None or first["access"] != "Allow":
                warn.add("network.nsg-service-tags")
    policy_assignments = [
        ((pa.get("scope") or f"/subscriptions/{sub['id']}").lower(), pa)
        for pa in sub.get("policy_assignments") or []
    ]
    for group in ix.estate.get("management_groups") or []:
        policy_assignments += [
            (f"{MG_PREFIX}{group['name']}".lower(), pa) for pa in group.get("policy_assignments") or []
        ]
    for scope, pa in policy_assignments:
        excluded = ((pa.get("parameters") or {}).get("excludedNamespaces") or {}).get("value")
        if excluded is None:  # a definition default, when the definition has one
            excluded = ix.definition_defaults.get(str(pa.get("policy_definition_id", "")).lower())
        not_scoped = any(ix.covers(ns, cluster_id) for ns in pa.get("not_scopes") or [])
        if (
            excluded is not None
            and ix.covers(scope, cluster_id)
            and not not_scoped
            and "dataprotection-microsoft" not in excluded
        ):
            warn.add("policy.namespace-excluded")
    incluster = set()
    output = (c.get("run_command") or {}).get("output", "")
    for line in output.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and "velero" in parts[1].lower() and parts[0] != "dataprotection-microsoft":
            incluster.add("cluster.velero-absent")
    bi = None
    if kind == "backup":
        bi = next(b for b in v["backup_instances"] if b["cluster_id"].lower() == cluster_id)
    if _vault_principal(v, bi) is None:
        fail.add("vault.identity")
    fail |= _role_failures(ix, target, c, v, principal, ext, account_id)
    _support_window(ix, target, c, v, account_id, ext, fail, warn)
    if target["kind"] == "backup":
        _backup_outcome(v, target, fail, warn)
    return fail, warn, incluster


# Microsoft's AKS backup support matrix: regions with the Operational (snapshot) tier only.
OPERATIONAL_ONLY = {
    "chinaeast2", "chinaeast3", "chinanorth2", "chinanorth3", "usgovarizona", "usgovtexas",
    "usgovvirginia", "israelcentral", "polandcentral", "spaincentral",
}  # fmt: skip


def _support_window(
    ix: Index,
    target: dict[str, Any],
    c: dict[str, Any],
    v: dict[str, Any],
    account_id: str | None,
    ext: dict[str, Any] | None,
    fail: set[str],
    warn: set[str],
) -> None:
    """The version window, binding limit and stale bindings, the vault tier's region, a shared container."""
    cluster_id, vault_id = target["cluster_id"].lower(), target["vault_id"].lower()
    served = ix.estate.get("kubernetes_versions") or {}
    minors = {
        m["version"]: m for m in served.get(ix.location[cluster_id].lower()) or served.get("default") or []
    }
    minor = ".".join(c["kubernetes_version"].split(".")[:2])
    if minors and minor not in minors:
        lowest = min(_version(m) for m in minors)
        (fail if _version(minor) < lowest else warn).add("cluster.kubernetes-version-supported")
    elif minors:
        entry = minors[minor]
        plans = entry.get("support_plans") or ["KubernetesOfficial"]
        if entry.get("preview") or (
            "KubernetesOfficial" not in plans and c.get("support_plan") != "AKSLongTermSupport"
        ):
            warn.add("cluster.kubernetes-version-supported")
    bindings = c.get("trusted_access_bindings") or []
    from_vault = any(b["source_resource_id"].lower() == vault_id for b in bindings)
    if len(bindings) >= 8 and not from_vault:
        fail.add("trusted-access.binding-limit")
    elif len(bindings) >= 7:
        warn.add("trusted-access.binding-limit")
    if any(
        "/providers/microsoft.dataprotection/backupvaults/" in b["source_resource_id"].lower()
        and b["source_resource_id"].lower() not in ix.vaults
        for b in bindings
    ):
        warn.add("trusted-access.stale-bindings")
    if target["kind"] == "backup":
        bi = next(x for x in v["backup_instances"] if x["cluster_id"].lower() == cluster_id)
        policy = next(p for p in v["policies"] if p["name"] == bi["policy"])
        region = ix.location[vault_id].replace(" ", "").lower()
        if policy["vault_store"] and region in OPERATIONAL_ONLY:
            fail.add("vault.tier-region-supported")
    if ext is not None and account_id:
        subs = {ix.sub_of[cluster_id], account_id.split("/resourcegroups/")[0]}
        guarded = {bi["cluster_id"].lower() for vid, _vault, bi in ix.instances() if ix.sub_of[vid] in subs}
        guarded |= {
            cid
            for cid, other in ix.clusters.items()
            if ix.sub_of[cid] in subs and _tag(other.get("tags"), "aks-backup-guard-vault")
        }
        for other_id in guarded - {cluster_id}:
            o = ix.clusters[other_id].get("extension")
            other_account = (
                f"/subscriptions/{o['storage_subscription_id']}/resourceGroups/{o['storage_resource_group']}"
                f"/providers/Microsoft.Storage/storageAccounts/{o['storage_account']}".lower()
                if o
                else None
            )
            if o and o["container"] == ext["container"] and other_account == account_id:
                fail.add("storage.container-not-shared")


# Prerequisites without which a simulated backup fails (the simulator's runner and Microsoft's
# troubleshooting guide agree on these; the others do not stop a backup in the simulator).
BACKUP_BLOCKERS = {
    "vault.identity",
    "locks.snapshot-rg-unlocked",
    "locks.storage-not-read-only",
    "role.vault-reader-on-cluster",
    "extension.installed",
    "trusted-access.binding",
    "extension.storage-location",
    "role.extension-blob-contributor-on-storage",
    "vault.tier-region-supported",
}


def _backup_outcome(v: dict[str, Any], target: dict[str, Any], fail: set[str], warn: set[str]) -> None:
    """The estate runs every instance's backup (``backup_runs_hours_ago``): it fails while a blocker
    fails (or shared-key access is refused), and an instance marked never_backed_up has no job."""
    bi = next(b for b in v["backup_instances"] if b["cluster_id"].lower() == target["cluster_id"].lower())
    if bi.get("never_backed_up"):
        warn.add("backup.recent-jobs")
    elif fail & BACKUP_BLOCKERS or "storage.shared-key-access" in warn:
        fail.add("backup.recent-jobs")
    if bi.get("protection_error"):
        fail.add("backup.protection")


def _role_failures(
    ix: Index,
    target: dict[str, Any],
    c: dict[str, Any],
    v: dict[str, Any],
    cluster_principal: str | None,
    ext: dict[str, Any] | None,
    account_id: str | None,
) -> set[str]:
    g = ROLE_GUIDS
    bi = None
    if target["kind"] == "backup":
        bi = next(b for b in v["backup_instances"] if b["cluster_id"].lower() == target["cluster_id"].lower())
    vp = _vault_principal(v, bi)
    rows: list[tuple[str, str | None, str | None, str]] = [
        ("role.vault-reader-on-cluster", target["cluster_id"], vp, g["Reader"])
    ]
    ext_principal = ext.get("principal_id") if ext else None
    rows.append(
        (
            "role.extension-blob-contributor-on-storage",
            account_id,
            ext_principal,
            g["Storage Blob Data Contributor"],
        )
    )
    if bi is not None:
        snap = bi["snapshot_resource_group_id"]
        rows += [
            ("role.vault-reader-on-snapshot-rg", snap, vp, g["Reader"]),
            ("role.cluster-contributor-on-snapshot-rg", snap, cluster_principal, g["Contributor"]),
        ]
        policy = next(p for p in v["policies"] if p["name"] == bi["policy"])
        if policy["vault_store"]:
            rows += [
                ("role.vault-disk-operator-on-snapshot-rg", snap, vp, g["Data Operator for Managed Disks"]),
                ("role.vault-snapshot-contributor-on-snapshot-rg", snap, vp, g["Disk Snapshot Contributor"]),
                ("role.vault-blob-reader-on-storage", account_id, vp, g["Storage Blob Data Reader"]),
            ]
    staging_rg = _tag(v.get("tags"), "aks-backup-guard-staging-rg")
    staging_sa = _tag(v.get("tags"), "aks-backup-guard-staging-storage")
    if staging_rg or staging_sa:
        rows += [
            ("role.vault-contributor-on-staging-rg", staging_rg, vp, g["Contributor"]),
            (
                "role.vault-account-contributor-on-staging-storage",
                staging_sa,
                vp,
                g["Storage Account Contributor"],
            ),
            ("role.vault-blob-owner-on-staging-storage", staging_sa, vp, g["Storage Blob Data Owner"]),
        ]
    # A row whose principal or scope cannot exist cannot hold: it fails (shared/roles.py).
    return {
        row
        for row, scope, principal, guid in rows
        if not (scope and principal and ix.holds(scope, principal, guid))
    }


# ---------------------------------------------------------------- demo.yaml


def test_demo_has_the_documented_size(demo: dict[str, Any]) -> None:
    ix = Index(demo)
    assert len(ix.subs) >= 3
    assert len(ix.clusters) >= 12
    assert len(ix.vaults) >= 4


def test_demo_references_resolve(demo: dict[str, Any]) -> None:
    ix = Index(demo)
    directory = {p["id"].lower() for p in demo["principals"]}
    for _vault_id, vault, bi in ix.instances():
        assert bi["cluster_id"].lower() in ix.clusters, bi
        assert bi["policy"] in {p["name"] for p in vault["policies"]}, bi
        assert bi["snapshot_resource_group_id"].lower() in ix.rgs, bi
    for vault_id, vault in ix.vaults.items():
        principals = [vault["identity"].get("principal_id")] + [
            u["principal_id"] for u in vault["identity"].get("user_assigned") or []
        ]
        assert all(p.lower() in directory for p in principals if p), vault_id
        assert any(principals), vault_id
        for tag in (
            "aks-backup-guard-staging-rg",
            "aks-backup-guard-staging-storage",
            "aks-backup-guard-storage-account",
        ):
            value = _tag(vault.get("tags"), tag)
            assert value is None or value.lower() in ix.rgs or value.lower() in ix.accounts, (vault_id, tag)
        for cluster_id in filter(
            None, (_tag(vault.get("tags"), "aks-backup-guard-restore-targets") or "").split(",")
        ):
            assert cluster_id.strip().lower() in ix.clusters
    for cluster_id, c in ix.clusters.items():
        identity = c["identity"]
        if identity["type"] != "ServicePrincipal":
            assert identity["principal_id"].lower() in directory, cluster_id
        if c.get("extension"):
            assert c["extension"]["principal_id"].lower() in directory, cluster_id
        for binding in c.get("trusted_access_bindings") or []:
            source = binding["source_resource_id"].lower()
            # a binding's source is a vault, or (aks-finance-dev) a retired vault or another service
            assert source in ix.vaults or "bv-finance-retired" in source or "/workspaces/" in source
        if c.get("subnet_id"):
            assert c["subnet_id"].lower() in ix.subnet_nsg, cluster_id
        vault_tag = _tag(c.get("tags"), "aks-backup-guard-vault")
        assert vault_tag is None or vault_tag.lower() in ix.vaults
    known = directory | {GUARD_PRINCIPAL.lower()}
    for scope, principal, guid in ix.assignments:
        assert principal in known, (scope, principal)
        assert guid in set(ROLE_GUIDS.values()) | {REMEDIATOR_ROLE_ID}, guid
        assert (
            scope in ix.subs
            or scope in ix.rgs
            or scope in ix.clusters
            or scope in ix.accounts
            or scope in ix.management_groups
        ), scope
    fresh = [p for p in demo["principals"] if p.get("replicate_after_seconds")]
    assert [p["replicate_after_seconds"] for p in fresh] == [3]


def test_demo_guard_identity(demo: dict[str, Any]) -> None:
    ix = Index(demo)
    guard = demo["guard"]["principal_id"].lower()
    assert demo["other_tokens"][0]["token"] == "sim-admin-token"
    (role,) = demo["custom_roles"]
    assert role["name"] == "AKS Backup Guard Remediator" and role["id"] == REMEDIATOR_ROLE_ID
    assert role["actions"] == list(REMEDIATOR_ACTIONS)
    for sub_id in ix.subs:
        assert ix.holds(sub_id, guard, ROLE_GUIDS["Reader"])
        assert ix.holds(sub_id, guard, REMEDIATOR_ROLE_ID)
        (rbac,) = [
            a
            for a in demo["role_assignments"]
            if a["scope"].lower() == sub_id and a["role"] == "Role Based Access Control Administrator"
        ]
        assert rbac["condition"] == GUARD_RBAC_CONDITION
    assert len(MATRIX_ROLE_GUIDS) == 8
    assert all(guid in GUARD_RBAC_CONDITION for guid in MATRIX_ROLE_GUIDS)
    # writes: ServicePrincipal only, never the Guard itself; deletes: a contradiction (never)
    assert GUARD_RBAC_CONDITION.count("{'ServicePrincipal'}") == 3
    assert f"GuidNotEquals {{{GUARD_PRINCIPAL}}}" in GUARD_RBAC_CONDITION
    for _v, _vault, bi in ix.instances():
        ext = ix.clusters[bi["cluster_id"].lower()].get("extension")
        if ext:
            account = (
                f"/subscriptions/{ext['storage_subscription_id']}/resourceGroups/{ext['storage_resource_group']}"
                f"/providers/Microsoft.Storage/storageAccounts/{ext['storage_account']}"
            )
            assert ix.holds(account, guard, ROLE_GUIDS["Storage Blob Data Reader"]), account


def test_guard_can_list_every_backup_container(demo: dict[str, Any]) -> None:
    """storage.container-dedicated needs List Blobs: RBAC (checked above) and the account's network
    rules must admit the Guard, which the simulator sees as 127.0.0.1; otherwise it is unknown."""
    ix = Index(demo)
    for cluster_id, c in ix.clusters.items():
        ext = c.get("extension")
        if not ext:
            continue
        account_id = (
            f"/subscriptions/{ext['storage_subscription_id']}/resourceGroups/{ext['storage_resource_group']}"
            f"/providers/Microsoft.Storage/storageAccounts/{ext['storage_account']}"
        ).lower()
        account = ix.accounts[account_id]
        assert account.get("public_network_access", "Enabled") != "Disabled", cluster_id
        acls = account.get("network_acls") or {}
        if acls.get("default_action", "Allow") == "Deny":
            assert "127.0.0.1" in acls.get("ip_rules", []), cluster_id


def test_manifest_lists_exactly_the_targets(demo: dict[str, Any], manifest: dict[str, Any]) -> None:
    ix = Index(demo)
    expected: set[tuple[str, str, str]] = set()
    ignored: set[str] = set()
    for vault_id, _vault, bi in ix.instances():
        expected.add((bi["cluster_id"].lower(), vault_id, "backup"))
    for cluster_id, c in ix.clusters.items():
        vault_tag = _tag(c.get("tags"), "aks-backup-guard-vault")
        if vault_tag and not any(cid == cluster_id and vid == vault_tag.lower() for cid, vid, _ in expected):
            expected.add((cluster_id, vault_tag.lower(), "prepare"))
    for vault_id, vault in ix.vaults.items():
        for cluster_id in filter(
            None, (_tag(vault.get("tags"), "aks-backup-guard-restore-targets") or "").split(",")
        ):
            expected.add((cluster_id.strip().lower(), vault_id, "restore"))
    for cluster_id, c in ix.clusters.items():
        if (_tag(c.get("tags"), "aks-backup-guard") or "").lower() == "ignore":
            ignored.add(cluster_id)
    expected = {t for t in expected if t[0] not in ignored}
    listed = {(t["cluster_id"].lower(), t["vault_id"].lower(), t["kind"]) for t in manifest["targets"]}
    assert listed == expected
    assert {i["cluster_id"].lower() for i in manifest["ignored"]} == ignored
    for t in manifest["targets"]:
        c = ix.clusters[t["cluster_id"].lower()]
        opt = (_tag(c.get("tags"), "aks-backup-guard") or "none").lower()
        assert t["opt_out"] == opt
        assert t["cluster"] == t["cluster_id"].rsplit("/", 1)[-1]
        if t["kind"] == "backup":
            assert t["backup_instance_id"].lower().startswith(t["vault_id"].lower() + "/backupinstances/")


def test_manifest_is_well_formed(manifest: dict[str, Any]) -> None:
    assert tuple(manifest["checks"]) == DOCUMENTED_CHECK_IDS
    seen: set[str] = set()
    for t in manifest["targets"]:
        fail, warn = set(t["fail"]), set(t["warn"])
        assert fail <= set(DOCUMENTED_CHECK_IDS) and warn <= WARN_CHECKS and not fail & warn, t["cluster"]
        assert t["fail_with_incluster"] in ([], ["cluster.velero-absent"])
        parts = [set(t["remediable"]), set(t["remediable_with_cluster"]), set(t["not_remediable"])]
        assert set().union(*parts) == fail and sum(map(len, parts)) == len(fail), t["cluster"]
        assert all(f.startswith("role.") or f in GUARD_FIXES for f in t["remediable"])
        assert set(t["remediable_with_cluster"]) <= CLUSTER_FIXES
        seen |= fail | warn | set(t["fail_with_incluster"])
    assert seen == set(DOCUMENTED_CHECK_IDS), set(DOCUMENTED_CHECK_IDS) - seen
    healthy = [t for t in manifest["targets"] if not (t["fail"] or t["warn"] or t["fail_with_incluster"])]
    assert len(healthy) >= 3
    assert {t["opt_out"] for t in manifest["targets"]} == {"none", "report-only"}
    assert {t["kind"] for t in manifest["targets"]} == {"backup", "prepare", "restore"}


def test_manifest_matches_an_independent_reading_of_the_estate(
    demo: dict[str, Any], manifest: dict[str, Any]
) -> None:
    ix = Index(demo)
    for t in manifest["targets"]:
        fail, warn, incluster = expected_statuses(ix, t)
        assert (sorted(fail), sorted(warn), sorted(incluster)) == (
            t["fail"],
            t["warn"],
            t["fail_with_incluster"],
        ), t["cluster"]


# ---------------------------------------------------------------- generator


def test_generator_shape_and_determinism(tmp_path: Path) -> None:
    estate = generate_estate(500, 3, drift_ratio=0.2, seed=7)
    ix = Index(estate)
    instances = list(ix.instances())
    assert len(instances) == 500
    per_sub: dict[str, int] = {}
    for _vault_id, _vault, bi in instances:
        assert bi["cluster_id"].lower() in ix.clusters
        sub = ix.sub_of[bi["cluster_id"].lower()]
        per_sub[sub] = per_sub.get(sub, 0) + 1
    assert sorted(per_sub.values()) == [166, 167, 167]
    assert len(ix.subs) == 3
    assert all(len(v["backup_instances"]) <= 50 for v in ix.vaults.values())
    drifted = [c for c in ix.clusters.values() if _tag(c.get("tags"), "drift")]
    assert 50 <= len(drifted) <= 150
    directory = {p["id"] for p in estate["principals"]}
    for c in ix.clusters.values():
        if c["identity"]["type"] != "ServicePrincipal":
            assert c["identity"]["principal_id"] in directory
    guard = estate["guard"]["principal_id"].lower()
    for sub_id in ix.subs:
        assert ix.holds(sub_id, guard, ROLE_GUIDS["Reader"])
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    dump(estate, a)
    dump(generate_estate(500, 3, drift_ratio=0.2, seed=7), b)
    assert a.read_bytes() == b.read_bytes()
    assert generate_estate(500, 3, seed=8) != estate
    assert yaml.load(a.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) == estate


def test_generator_healthy_targets_hold_every_role(tmp_path: Path) -> None:
    estate = generate_estate(120, 2, drift_ratio=0.0, seed=3)
    ix = Index(estate)
    for vault_id, _vault, bi in ix.instances():
        target = {"cluster_id": bi["cluster_id"], "vault_id": vault_id, "kind": "backup"}
        fail, warn, incluster = expected_statuses(ix, target)
        assert (fail, warn, incluster) == (set(), set(), set()), bi["name"]


def test_generator_builds_ten_thousand_targets() -> None:
    """Generation speed is a ``make bench`` figure, not a timed test (machine load must not decide)."""
    estate = generate_estate(10_000, 20)
    assert sum(len(v["backup_instances"]) for v in Index(estate).vaults.values()) == 10_000


# ---------------------------------------------------------------- the simulator accepts both


def _guard_reads(sim: SimHandle, cluster_id: str) -> None:
    status, _, body = sim.call("GET", f"{cluster_id}?api-version=2024-05-01", token=sim.token)
    assert status == 200, body
    assert body["id"].lower() == cluster_id.lower()


def test_simulator_serves_the_demo_estate(manifest: dict[str, Any]) -> None:
    with running_simulator(ESTATES / "demo.yaml") as sim:
        for target in manifest["targets"]:
            _guard_reads(sim, target["cluster_id"])
        assert sim.admin_token == "sim-admin-token"


def test_simulator_serves_a_generated_estate() -> None:
    estate = generate_estate(200, 4, seed=11)
    ix = Index(estate)
    with running_simulator(estate) as sim:
        _vault_id, _vault, bi = next(ix.instances())
        _guard_reads(sim, bi["cluster_id"])
        sub = next(iter(ix.subs))
        status, _, body = sim.call(
            "GET",
            f"{sub}/providers/Microsoft.ContainerService/managedClusters?api-version=2024-05-01",
            token=sim.token,
        )
        assert status == 200 and body["value"], body
