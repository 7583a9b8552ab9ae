"""Generate large, deterministic estates for the Azure simulator (benchmarks, scale tests).

``python -m localdev.estates.generate --targets 10000 --subscriptions 20 [--drift-ratio 0.2]
[--seed 1] [--out FILE]`` writes an estate (the schema in ``localdev/README.md``; JSON when FILE
ends in ``.json``, else YAML) with exactly ``targets`` backup instances spread evenly over
``subscriptions`` subscriptions:

- per subscription: cluster resource groups of up to 100 clusters, one Backup vault per 50
  clusters (policies ``daily-operational`` and ``daily-vaulted``; about a third of the instances
  use the vaulted one), one snapshot resource group per vault, one backup storage account per 10
  clusters (one blob container per cluster), a VNet with one node subnet per cluster RG and an
  NSG that allows AzureBackup and AzureCloud inbound, one Kubernetes policy assignment that
  excludes ``dataprotection-microsoft``;
- every role of the role matrix for healthy targets (vault Reader per cluster, the vault's
  snapshot-RG and storage roles once per vault, cluster and extension roles per cluster);
- a ``drift_ratio`` fraction of the clusters gets one drift from :data:`DRIFTS`, each confined to
  that one cluster and recorded in the cluster tag ``drift`` (for benchmark assertions; the
  Guard ignores the tag);
- the Guard identity exactly as in ``demo.yaml`` (:func:`guard_section`).

Same arguments, same bytes: GUIDs are uuid5 of the seed and the resource's name, and all
randomness comes from one ``random.Random(seed)``. The work is linear in ``targets`` and the
estate is plain dicts and lists (10,000 targets: see the README's "Estates shipped").
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from shared.model import CONSENT_TAG

Estate = dict[str, Any]

TENANT = "4b2c9f1e-7d3a-4e5b-9c8d-1f2e3a4b5c6d"
GUARD_PRINCIPAL = "6f1d2e3c-4b5a-4978-8a1b-2c3d4e5f6a01"
ADMIN_PRINCIPAL = "6f1d2e3c-4b5a-4978-8a1b-2c3d4e5f6ad1"
GUARD_TOKEN = "sim-guard-token"
ADMIN_TOKEN = "sim-admin-token"

# The eight distinct role definitions of the role matrix (shared/roles.py ROLE_MATRIX).
MATRIX_ROLE_GUIDS: tuple[str, ...] = (
    "acdd72a7-3385-48ef-bd42-f606fba81ae7",  # Reader
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe",  # Storage Blob Data Contributor
    "959f8984-c045-4866-89c7-12bf9737be2e",  # Data Operator for Managed Disks
    "7efff54f-a5b4-42b5-a1c5-5411624893ce",  # Disk Snapshot Contributor
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",  # Storage Blob Data Reader
    "17d1049b-9a84-46fb-8f53-869881c3d3ab",  # Storage Account Contributor
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",  # Storage Blob Data Owner
)
_GUIDS = ", ".join(MATRIX_ROLE_GUIDS)
# "Constrain roles and principal types" delegation, as infra/generated/rbac-condition.json with the
# Guard's principal filled in: the Guard may only assign the matrix roles, only to service principals
# other than itself, and may delete no assignment (a contradiction on the assignment's PrincipalType).
_RA = "Microsoft.Authorization/roleAssignments"
GUARD_RBAC_CONDITION = (
    f"((!(ActionMatches{{'{_RA}/write'}})) OR "
    f"(@Request[{_RA}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{_GUIDS}}}"
    f" AND @Request[{_RA}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}"
    f" AND @Request[{_RA}:PrincipalId] ForAnyOfAnyValues:GuidNotEquals {{{GUARD_PRINCIPAL}}})) AND "
    f"((!(ActionMatches{{'{_RA}/delete'}})) OR "
    f"(@Resource[{_RA}:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}}"
    f" AND @Resource[{_RA}:PrincipalType] ForAnyOfAnyValues:StringNotEqualsIgnoreCase"
    " {'ServicePrincipal'}))"
)
REMEDIATOR_ROLE_ID = "9b3e6c1a-2f4d-4a8b-b7c6-5d4e3f2a1b0c"
REMEDIATOR_ROLE_NAME = "AKS Backup Guard Remediator"
REMEDIATOR_ACTIONS: tuple[str, ...] = (
    "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write",
    "Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/read",
    "Microsoft.KubernetesConfiguration/register/action",
    "Microsoft.Storage/storageAccounts/write",
    "Microsoft.ContainerService/managedClusters/write",
    "Microsoft.KubernetesConfiguration/extensions/write",
    "Microsoft.ContainerService/managedClusters/runCommand/action",
    "Microsoft.ContainerService/managedClusters/commandResults/read",
)

BACKUP_OPERATOR = "Microsoft.DataProtection/backupVaults/backup-operator"
K8S_NO_PRIVILEGED = (
    "/providers/Microsoft.Authorization/policyDefinitions/95edb821-ddaf-4404-9732-666045e056b4"
)
EXCLUDED_OK = ["kube-system", "gatekeeper-system", "azure-arc", "dataprotection-microsoft"]
# What `kubectl get deployments -A` prints through AKS run command (cluster.velero-absent).
DEPLOYMENTS_CLEAN = (
    "NAMESPACE                  NAME                     READY   UP-TO-DATE   AVAILABLE   AGE\n"
    "kube-system                coredns                  2/2     2            2           212d\n"
    "kube-system                metrics-server           2/2     2            2           212d\n"
    "dataprotection-microsoft   dataprotection-agent     1/1     1            1           96d\n"
)
DEPLOYMENTS_VELERO = (
    DEPLOYMENTS_CLEAN
    + "velero                     velero                   1/1     1            1           340d\n"
)

# One drift per drifted cluster, each confined to that cluster (the demo estate has the full catalog).
DRIFTS: tuple[str, ...] = (
    "trusted-access-missing",
    "disk-csi-off",
    "snapshot-controller-off",
    "service-principal",
    "kubernetes-1.20",
    "extension-failed",
    "extension-missing",
    "container-missing",
    "foreign-blobs",
    "velero",
    "udr-egress",
    "nsg-without-service-tags",
    "vault-reader-on-cluster-missing",
    "cluster-contributor-missing",
    "extension-blob-contributor-missing",
)

REGIONS: tuple[tuple[str, str], ...] = (
    ("westeurope", "weu"),
    ("northeurope", "neu"),
    ("eastus2", "eus2"),
    ("swedencentral", "sdc"),
    ("uksouth", "uks"),
)
SBDR_GUID = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
STORAGE_ACCOUNT_TAG = "aks-backup-guard-storage-account"
BLOB_CONTAINER_TAG = "aks-backup-guard-blob-container"
DEFAULT_CONTAINER = "aks-backup-default"
RESTRICTED_SUBNET = "nodes-restricted"
CLUSTERS_PER_RG = 100
CLUSTERS_PER_VAULT = 50
CLUSTERS_PER_STORAGE = 10
VAULTED_SHARE = 0.33


def guard_section(subscription_ids: list[str], storage_account_ids: list[str]) -> tuple[Estate, list[Estate]]:
    """The Guard identity's estate keys and its role assignments.

    Returns ``({"tenant", "guard", "other_tokens", "custom_roles"}, role_assignments)``: Reader,
    Role Based Access Control Administrator (condition :data:`GUARD_RBAC_CONDITION`) and the
    remediator custom role on each subscription, Storage Blob Data Reader on each backup
    storage account (to list blobs for ``storage.container-dedicated``).
    """
    top: Estate = {
        "tenant": TENANT,
        "guard": {"principal_id": GUARD_PRINCIPAL, "token": GUARD_TOKEN},
        "other_tokens": [{"token": ADMIN_TOKEN, "principal_id": ADMIN_PRINCIPAL, "object_type": "User"}],
        "custom_roles": [
            {
                "id": REMEDIATOR_ROLE_ID,
                "name": REMEDIATOR_ROLE_NAME,
                "actions": list(REMEDIATOR_ACTIONS),
                "assignable_scopes": [f"/subscriptions/{s}" for s in subscription_ids],
            }
        ],
    }
    assignments: list[Estate] = []
    for sub in subscription_ids:
        scope = f"/subscriptions/{sub}"
        assignments.append({"scope": scope, "principal_id": GUARD_PRINCIPAL, "role": "Reader"})
        assignments.append(
            {
                "scope": scope,
                "principal_id": GUARD_PRINCIPAL,
                "role": "Role Based Access Control Administrator",
                "condition": GUARD_RBAC_CONDITION,
            }
        )
        assignments.append({"scope": scope, "principal_id": GUARD_PRINCIPAL, "role": REMEDIATOR_ROLE_ID})
    for account in storage_account_ids:
        assignments.append(
            {"scope": account, "principal_id": GUARD_PRINCIPAL, "role": "Storage Blob Data Reader"}
        )
    return top, assignments


class _Ids:
    """uuid5 GUIDs from the seed and a name: stable across runs and Python versions."""

    def __init__(self, seed: int) -> None:
        self._ns = uuid.uuid5(uuid.NAMESPACE_URL, f"https://aks-backup-guard.local/estates/seed/{seed}")

    def __call__(self, name: str) -> str:
        return str(uuid.uuid5(self._ns, name))


def _spread(total: int, parts: int) -> Iterator[int]:
    base, extra = divmod(total, parts)
    for i in range(parts):
        yield base + (1 if i < extra else 0)


def generate_estate(targets: int, subscriptions: int, *, drift_ratio: float = 0.2, seed: int = 1) -> Estate:
    """A deterministic estate of ``targets`` backup instances over ``subscriptions`` subscriptions."""
    if targets < 0 or subscriptions < 1:
        raise ValueError("need targets >= 0 and subscriptions >= 1")
    if not 0.0 <= drift_ratio <= 1.0:
        raise ValueError("drift_ratio must be between 0 and 1")
    out = _Output(random.Random(seed), _Ids(seed), drift_ratio)
    subs = [
        _Subscription(out, s_index, count).build()
        for s_index, count in enumerate(_spread(targets, subscriptions))
    ]
    top, guard_assignments = guard_section([sub["id"] for sub in subs], out.storage_ids)
    estate: Estate = dict(top)
    estate["principals"] = out.principals
    estate["subscriptions"] = subs
    estate["role_assignments"] = guard_assignments + out.role_assignments
    return estate


@dataclass
class _Output:
    """What every subscription appends to: the estate's flat lists, and the shared randomness."""

    rng: random.Random
    guid: _Ids
    drift_ratio: float
    principals: list[Estate] = field(default_factory=list)
    role_assignments: list[Estate] = field(default_factory=list)
    storage_ids: list[str] = field(default_factory=list)

    def grant(self, scope: str, principal_id: str, role: str) -> None:
        self.role_assignments.append({"scope": scope, "principal_id": principal_id, "role": role})


class _Subscription:
    """One subscription of ``count`` clusters: resource groups, vaults, storage, network, clusters."""

    def __init__(self, out: _Output, index: int, count: int) -> None:
        self.out = out
        self.count = count
        self.location, short = REGIONS[index % len(REGIONS)]
        self.env = f"s{index:03d}-{short}"
        self.id = out.guid(f"subscription/{index}")
        self.scope = f"/subscriptions/{self.id}"
        self.rg_backup = f"rg-backup-{self.env}"
        self.rg_net = f"rg-network-{self.env}"
        self.vnet_id = (
            f"{self.rg_id(self.rg_net)}/providers/Microsoft.Network/virtualNetworks/vnet-aks-{self.env}"
        )
        self.account_prefix = f"stbkp{index:03d}{short}"

    def rg_id(self, name: str) -> str:
        return f"{self.scope}/resourceGroups/{name}"

    def build(self) -> Estate:
        n_rgs = max(1, -(-self.count // CLUSTERS_PER_RG))
        n_vaults = max(1, -(-self.count // CLUSTERS_PER_VAULT))
        n_accounts = max(1, -(-self.count // CLUSTERS_PER_STORAGE))
        cluster_rgs: list[Estate] = [
            {"name": f"rg-aks-{self.env}-{r:02d}", "location": self.location, "clusters": []}
            for r in range(n_rgs)
        ]
        accounts = [self._account(a) for a in range(n_accounts)]
        account_ids = [f"{self.rg_id(self.rg_backup)}/providers/Microsoft.Storage/storageAccounts/{a['name']}"
                       for a in accounts]  # fmt: skip
        vaults = [
            self._vault(v, account_ids[v * CLUSTERS_PER_VAULT // CLUSTERS_PER_STORAGE])
            for v in range(n_vaults)
        ]
        accounts_readable_by: list[set[int]] = [set() for _ in accounts]
        for i in range(self.count):
            r, v, a = i // CLUSTERS_PER_RG, i // CLUSTERS_PER_VAULT, i // CLUSTERS_PER_STORAGE
            drift = (
                DRIFTS[self.out.rng.randrange(len(DRIFTS))]
                if self.out.rng.random() < self.out.drift_ratio
                else None
            )
            vaulted = self.out.rng.random() < VAULTED_SHARE
            cluster_id, cluster = self._cluster(
                i, cluster_rgs[r]["name"], f"nodes-{r:02d}", vaults[v], v, accounts[a], drift
            )
            cluster_rgs[r]["clusters"].append(cluster)
            vaults[v]["backup_instances"].append(
                {
                    "name": f"bi-{cluster['name']}",
                    "cluster_id": cluster_id,
                    "policy": "daily-vaulted" if vaulted else "daily-operational",
                    "snapshot_resource_group_id": self.rg_id(self._snapshot_rg(v)),
                }
            )
            if vaulted:
                accounts_readable_by[a].add(v)
        for a, vault_indexes in enumerate(accounts_readable_by):
            for v in sorted(vault_indexes):
                self.out.grant(account_ids[a], vaults[v]["identity"]["principal_id"], SBDR_GUID)
        self.out.storage_ids.extend(account_ids)
        return {
            "id": self.id,
            "display_name": f"contoso-aks-{self.env}",
            # One platform team owns the subscription: its consent (docs/trust-model.md).
            "tags": {CONSENT_TAG: self.scope},
            "policy_assignments": [
                {
                    "name": "k8s-no-privileged",
                    "policy_definition_id": K8S_NO_PRIVILEGED,
                    "display_name": "Kubernetes cluster should not allow privileged containers",
                    "parameters": {"excludedNamespaces": {"value": list(EXCLUDED_OK)}},
                }
            ],
            "resource_groups": [
                *cluster_rgs,
                {
                    "name": self.rg_backup,
                    "location": self.location,
                    "vaults": vaults,
                    "storage_accounts": accounts,
                },
                *({"name": self._snapshot_rg(v), "location": self.location} for v in range(n_vaults)),
                self._network(n_rgs),
            ],
        }

    def _snapshot_rg(self, v: int) -> str:
        return f"rg-aks-snapshots-{self.env}-{v:02d}"

    def _account(self, a: int) -> Estate:
        return {
            "name": f"{self.account_prefix}{a:04d}",
            "network_acls": {"default_action": "Allow", "bypass": "AzureServices"},
            "public_network_access": "Enabled",
            "allow_shared_key_access": True,
            "private_endpoints": 0,
            "containers": {DEFAULT_CONTAINER: []}
            if a % (CLUSTERS_PER_VAULT // CLUSTERS_PER_STORAGE) == 0
            else {},
        }

    def _vault(self, v: int, default_account_id: str) -> Estate:
        name = f"bv-{self.env}-{v:02d}"
        principal = self.out.guid(f"vault/{self.id}/{name}")
        self.out.principals.append({"id": principal, "display_name": name})
        snapshot_rg = self.rg_id(self._snapshot_rg(v))
        self.out.grant(snapshot_rg, principal, "Reader")
        self.out.grant(snapshot_rg, principal, "Data Operator for Managed Disks")
        self.out.grant(snapshot_rg, principal, "Disk Snapshot Contributor")
        return {
            "name": name,
            "identity": {"type": "SystemAssigned", "principal_id": principal},
            # Where the Guard installs a missing extension (extension.installed remediation).
            "tags": {STORAGE_ACCOUNT_TAG: default_account_id, BLOB_CONTAINER_TAG: DEFAULT_CONTAINER},
            "policies": [
                {"name": "daily-operational", "vault_store": False},
                {"name": "daily-vaulted", "vault_store": True},
            ],
            "backup_instances": [],
        }

    def _network(self, n_rgs: int) -> Estate:
        subnets: list[Estate] = [
            {
                "name": f"nodes-{r:02d}",
                "address_prefix": f"10.{r // 16}.{(r % 16) * 16}.0/20",
                "nsg": "nsg-aks-nodes",
            }
            for r in range(n_rgs)
        ]
        subnets.append(
            {"name": RESTRICTED_SUBNET, "address_prefix": "10.250.0.0/20", "nsg": "nsg-aks-restricted"}
        )
        return {
            "name": self.rg_net,
            "location": self.location,
            "virtual_networks": [
                {"name": f"vnet-aks-{self.env}", "address_prefix": "10.0.0.0/8", "subnets": subnets}
            ],
            "network_security_groups": [
                {
                    "name": "nsg-aks-nodes",
                    "rules": [
                        _nsg_rule("allow-azurebackup-inbound", 200, "AzureBackup"),
                        _nsg_rule("allow-azurecloud-inbound", 210, "AzureCloud"),
                    ],
                },
                {
                    "name": "nsg-aks-restricted",
                    "rules": [_nsg_rule("allow-vnet-inbound", 300, "VirtualNetwork")],
                },
            ],
        }

    def _cluster(
        self, i: int, rg: str, subnet: str, vault: Estate, v: int, account: Estate, drift: str | None
    ) -> tuple[str, Estate]:
        """(id, cluster) for one cluster; grants its per-cluster role assignments."""
        out = self.out
        name = f"aks-{self.env}-{i:05d}"
        if drift == "nsg-without-service-tags":
            subnet = RESTRICTED_SUBNET
        cluster_id = f"{self.rg_id(rg)}/providers/Microsoft.ContainerService/managedClusters/{name}"
        account_id = (
            f"{self.rg_id(self.rg_backup)}/providers/Microsoft.Storage/storageAccounts/{account['name']}"
        )
        vault_id = (
            f"{self.rg_id(self.rg_backup)}/providers/Microsoft.DataProtection/backupVaults/{vault['name']}"
        )
        cluster: Estate = {
            "name": name,
            "kubernetes_version": "1.20.15" if drift == "kubernetes-1.20" else "1.30.6",
            "disk_csi_driver": drift != "disk-csi-off",
            "snapshot_controller": drift != "snapshot-controller-off",
            "outbound_type": "userDefinedRouting" if drift == "udr-egress" else "loadBalancer",
            "subnet_id": f"{self.vnet_id}/subnets/{subnet}",
            "tags": {"drift": drift} if drift else {},
            "run_command": {
                "output": DEPLOYMENTS_VELERO if drift == "velero" else DEPLOYMENTS_CLEAN,
                "exit_code": 0,
            },
        }
        if drift == "service-principal":
            cluster["identity"] = {"type": "ServicePrincipal", "client_id": out.guid(f"spn/{cluster_id}")}
        else:
            principal = out.guid(f"cluster/{cluster_id}")
            out.principals.append({"id": principal, "display_name": name})
            cluster["identity"] = {"type": "SystemAssigned", "principal_id": principal}
            if drift != "cluster-contributor-missing":
                out.grant(self.rg_id(self._snapshot_rg(v)), principal, "Contributor")
        if drift != "extension-missing":
            ext_principal = out.guid(f"extension/{cluster_id}")
            out.principals.append({"id": ext_principal, "display_name": f"{name}-azure-aks-backup"})
            cluster["extension"] = {
                "name": "azure-aks-backup",
                "provisioning_state": "Failed" if drift == "extension-failed" else "Succeeded",
                "principal_id": ext_principal,
                "storage_account": account["name"],
                "storage_resource_group": self.rg_backup,
                "storage_subscription_id": self.id,
                "container": name,
                "use_aad": False,
            }
            if drift != "extension-blob-contributor-missing":
                out.grant(account_id, ext_principal, "Storage Blob Data Contributor")
            if drift != "container-missing":
                blobs = [f"velero/backups/{name}-daily/velero-backup.json"]
                if drift == "foreign-blobs":
                    blobs.append("exports/finance/ledger-2025-12.csv")
                account["containers"][name] = blobs
        if drift != "trusted-access-missing":
            cluster["trusted_access_bindings"] = [
                {
                    "name": f"backup-{vault['name']}",
                    "source_resource_id": vault_id,
                    "roles": [BACKUP_OPERATOR],
                    "provisioning_state": "Succeeded",
                }
            ]
        if drift != "vault-reader-on-cluster-missing":
            out.grant(cluster_id, vault["identity"]["principal_id"], "Reader")
        return cluster_id, cluster


def _nsg_rule(name: str, priority: int, source: str) -> Estate:
    return {
        "name": name,
        "direction": "Inbound",
        "access": "Allow",
        "priority": priority,
        "source": source,
        "destination": "*",
        "protocol": "*",
        "destination_port": "*",
    }


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter when available (about 10x faster); no anchors for shared objects."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(estate: Estate, out: Path | None) -> None:
    """Write the estate to ``out`` (stdout when None): JSON when the name ends in ``.json`` (the
    simulator reads such files as JSON, ~30x faster), YAML otherwise.

    YAML's top-level lists are written in chunks (a block sequence under its key), so peak memory
    is one chunk's YAML events, not the whole estate's.
    """
    if out is None:
        _write(estate, sys.stdout)
        return
    with out.open("w", encoding="utf-8") as fh:
        if out.suffix.lower() == ".json":
            json.dump(estate, fh, separators=(",", ":"))
            fh.write("\n")
        else:
            _write(estate, fh)


def _write(estate: Estate, fh: TextIO) -> None:
    for key, value in estate.items():
        if not isinstance(value, list) or not value:
            yaml.dump({key: value}, fh, Dumper=_Dumper, sort_keys=False, width=200)
            continue
        fh.write(f"{key}:\n")
        step = 1 if key == "subscriptions" else _CHUNK  # a subscription holds hundreds of clusters
        for start in range(0, len(value), step):
            yaml.dump(value[start : start + step], fh, Dumper=_Dumper, sort_keys=False, width=200)


_CHUNK = 500


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m localdev.estates.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--targets", type=int, required=True, help="number of backup instances (targets)")
    parser.add_argument("--subscriptions", type=int, required=True, help="number of subscriptions")
    parser.add_argument("--drift-ratio", type=float, default=0.2, help="share of clusters with one drift")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="output file (default: stdout)")
    args = parser.parse_args(argv)
    estate = generate_estate(args.targets, args.subscriptions, drift_ratio=args.drift_ratio, seed=args.seed)
    dump(estate, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
