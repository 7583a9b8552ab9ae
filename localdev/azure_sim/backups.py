"""The simulator runs backups: for each AKS backup instance, would a backup succeed right now?

Deliberately small and independent of the Guard (it shares no code with ``shared/``): each rule
below reads the simulator's own store and, when it does not hold, fails the job with the error
code Azure uses for it (Microsoft's "Troubleshoot Azure Kubernetes Service backup and restore";
the trusted-access code as seen in real validate-for-backup output). The first rule that does not
hold decides the job, in the order Azure's backup workflow meets them:

0. the vault has the identity the instance runs under: a system-assigned one
   (``UserErrorSystemIdentityNotEnabledWithVault``) or the user-assigned one its identityDetails
   name (``UserErrorUserIdentityNotFoundOrNotAssociatedWithVault``), both from Microsoft's
   "Troubleshoot Azure Backup vault related operations";
1. the vault identity the instance runs under can read the cluster (Reader at the cluster or
   above) -> ``KubernetesBackupListExtensionsError``;
2. the backup extension is installed -> ``UserErrorKubernetesBackupExtensionNotFoundError``, and
   ``Succeeded`` -> ``UserErrorKubernetesBackupExtensionHasErrors``;
3. a trusted access binding from the vault with role backup-operator has succeeded ->
   ``UserErrorTrustedAccessGatewayReturnedForbidden``;
4. the extension's storage account and container exist -> ``UserErrorNoDefaultBackupStorageLocationFound``;
5. the extension can authenticate: shared key access is allowed on the account, or the extension
   is configured with ``useAAD=true`` -> ``UserErrorStorageAccountKeyAccessDisallowed`` (Microsoft's
   "Troubleshoot Azure Backup vault related operations");
6. no ReadOnly lock on the storage account or above -> ``UserErrorBackupFailedBackupStorageLocationReadOnly``;
7. the extension identity holds Storage Blob Data Contributor (or Owner) at the account or above
   -> ``UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation``;
8. the snapshot resource group carries no Delete/ReadOnly lock (the estate's ``locks``) ->
   ``UserErrorSnapshotResourceGroupHasLocks``;
9. a policy that copies to or keeps backups in the ``VaultStore`` needs a vault in a region with
   the Vault tier (Microsoft's AKS backup support matrix lists the regions with the Operational
   tier only) -> ``DppUserErrorVaultTierPolicyNotSupported``. (In Azure this may already refuse the
   configuration; the simulator reports it on the job, where the Guard reads outcomes.)

Every run records one job per instance (``Completed`` or ``Failed``) under
``{vault}/backupJobs/{id}``, as :func:`shapes.backup_job` shapes it. A successful job clears a
protection error the estate seeded on the instance (a simplification: in Azure a user may have to
re-configure protection).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from localdev.azure_sim import shapes
from localdev.azure_sim.store import Json, Store

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
BLOB_WRITERS = ("ba92f5b4-2d11-453d-a403-e96b0029c9fe", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b")
BACKUP_OPERATOR = "microsoft.dataprotection/backupvaults/backup-operator"
INSTANCE_TYPE = "microsoft.dataprotection/backupvaults/backupinstances"
JOB_SECONDS = 95  # how long a simulated backup takes

Failure = tuple[str, str]
OPERATIONAL_TIER_ONLY = frozenset(
    {
        "chinaeast2", "chinaeast3", "chinanorth2", "chinanorth3", "usgovarizona", "usgovtexas",
        "usgovvirginia", "israelcentral", "polandcentral", "spaincentral",
    }
)  # fmt: skip


def _uses_vault_store(policy: Json | None) -> bool:
    """A rule of the policy backs up to, keeps backups in, or copies them to the VaultStore."""
    stores: list[Any] = []
    for rule in ((policy or {}).get("properties") or {}).get("policyRules") or []:
        stores.append(rule.get("dataStore"))
        for lifecycle in rule.get("lifecycles") or []:
            stores.append(lifecycle.get("sourceDataStore"))
            stores += [c.get("dataStore") for c in lifecycle.get("targetDataStoreCopySettings") or []]
    return any(str((st or {}).get("dataStoreType", "")).lower() == "vaultstore" for st in stores)


def _holds(store: Store, principal: str | None, scope: str, roles: tuple[str, ...]) -> bool:
    if not principal:
        return False
    for ra in store.role_assignments(principal=principal):
        props = ra.get("properties", {})
        guid = str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
        if guid in roles and store.contains(str(props.get("scope", "")), scope):
            return True
    return False


def _vault_principal(vault: Json, instance: Json) -> str | None:
    details = instance["properties"].get("identityDetails") or {}
    identity = vault.get("identity") or {}
    if details.get("useSystemAssignedIdentity") is False:
        wanted = str(details.get("userAssignedIdentityArmUrl", "")).lower()
        for key, value in (identity.get("userAssignedIdentities") or {}).items():
            if key.lower() == wanted:
                return str(value.get("principalId") or "") or None
        return None
    return str(identity.get("principalId") or "") or None


def _extension(store: Store, cluster_id: str) -> Json | None:
    base = shapes.child_base(cluster_id)
    for ext in store.children(f"{base}/providers/Microsoft.KubernetesConfiguration/extensions"):
        if str(ext["properties"].get("extensionType", "")).lower() == shapes.EXTENSION_TYPE:
            return ext
    return None


def _locked(store: Store, scope: str, levels: tuple[str, ...] = ("CanNotDelete", "ReadOnly")) -> str | None:
    for lock in store.locks:
        if lock["level"] in levels and store.contains(lock["scope"], scope):
            return str(lock["level"])
    return None


def judge(store: Store, vault: Json, instance: Json) -> Failure | None:
    """The first rule (module docstring) that does not hold, as (code, message); None: success."""
    props = instance["properties"]
    cluster_id = str(props["dataSourceInfo"]["resourceID"])
    principal = _vault_principal(vault, instance)
    if principal is None:
        if (props.get("identityDetails") or {}).get("useSystemAssignedIdentity") is False:
            return (
                "UserErrorUserIdentityNotFoundOrNotAssociatedWithVault",
                "The user-assigned identity of the backup instance is not associated with the vault.",
            )
        return (
            "UserErrorSystemIdentityNotEnabledWithVault",
            "The system-assigned identity of the Backup vault is not enabled.",
        )
    if not _holds(store, principal, cluster_id, (READER, CONTRIBUTOR, OWNER)):
        return (
            "KubernetesBackupListExtensionsError",
            "The Backup vault's identity could not list the extensions of the cluster.",
        )
    ext = _extension(store, cluster_id)
    if ext is None:
        return (
            "UserErrorKubernetesBackupExtensionNotFoundError",
            "Backup extension is not installed on the cluster.",
        )
    if str(ext["properties"].get("provisioningState")) != "Succeeded":
        return "UserErrorKubernetesBackupExtensionHasErrors", "The backup extension has errors."
    bindings = store.children(f"{shapes.child_base(cluster_id)}/trustedAccessRoleBindings")
    for binding in bindings:  # an Updating binding whose settle time is over has succeeded
        if binding["properties"].get("provisioningState") == "Updating" and store.settled(binding["id"]):
            binding["properties"]["provisioningState"] = "Succeeded"
    if not any(
        str(b["properties"].get("sourceResourceId", "")).lower() == str(vault["id"]).lower()
        and BACKUP_OPERATOR in [str(r).lower() for r in b["properties"].get("roles") or []]
        and b["properties"].get("provisioningState") == "Succeeded"
        for b in bindings
    ):
        return (
            "UserErrorTrustedAccessGatewayReturnedForbidden",
            "The Trusted Access role binding is missing/has gotten removed from the cluster.",
        )
    settings = ext["properties"].get("configurationSettings") or {}
    account_name = str(settings.get(shapes.BSL + "config.storageAccount", ""))
    container = str(settings.get(shapes.BSL + "bucket", ""))
    account_id = store.accounts_by_name.get(account_name.lower())
    account = store.get(account_id) if account_id else None
    if account is None or store.get(f"{account['id']}/blobServices/default/containers/{container}") is None:
        return "UserErrorNoDefaultBackupStorageLocationFound", "No default backup storage location was found."
    use_aad = str(settings.get(shapes.BSL + "config.useAAD", "")).lower() == "true"
    if account["properties"].get("allowSharedKeyAccess") is False and not use_aad:
        return (
            "UserErrorStorageAccountKeyAccessDisallowed",
            "Storage account key access is disallowed on the backup storage account.",
        )
    if _locked(store, str(account["id"]), ("ReadOnly",)):
        return (
            "UserErrorBackupFailedBackupStorageLocationReadOnly",
            "The backup storage location is read only.",
        )
    identity = ext["properties"].get("aksAssignedIdentity") or {}
    if not _holds(store, identity.get("principalId"), str(account["id"]), BLOB_WRITERS):
        return (
            "UserErrorExtensionMSIMissingPermissionsOnBackupStorageLocation",
            "The backup extension's identity does not have permissions on the backup storage location.",
        )
    for params in props["policyInfo"].get("policyParameters", {}).get("dataStoreParametersList") or []:
        group = str(params.get("resourceGroupId") or "")
        level = _locked(store, group) if group else None
        if level:
            return (
                "UserErrorSnapshotResourceGroupHasLocks",
                f"The snapshot resource group has a {level} lock.",
            )
    policy = (
        store.get(str((props.get("policyInfo") or {}).get("policyId") or ""))
        if props.get("policyInfo")
        else None
    )
    region = str(vault.get("location") or "").replace(" ", "").lower()
    if _uses_vault_store(policy) and region in OPERATIONAL_TIER_ONLY:
        return (
            "DppUserErrorVaultTierPolicyNotSupported",
            f"The vault-standard tier is not supported in {vault.get('location')}.",
        )
    return None


def run_backups(store: Store, *, now: datetime | None = None, only: str | None = None) -> list[Json]:
    """Run one backup of every AKS backup instance (or only of instance id ``only``); record and
    return the jobs. Safe to repeat: each run adds one job per instance."""
    started = now or datetime.now(UTC)
    jobs: list[Json] = []
    for instance in store.by_type(INSTANCE_TYPE):
        if only and instance["id"].lower() != only.lower():
            continue
        if instance["id"].lower() in store.never_backed_up:
            continue
        vault = store.get(instance["id"].rsplit("/backupInstances/", 1)[0])
        if vault is None:
            continue
        cluster_id = str(instance["properties"]["dataSourceInfo"]["resourceID"])
        if store.get(cluster_id) is None:
            continue  # nothing to back up (the Guard retires such a target)
        failure = judge(store, vault, instance)
        job_id = str(uuid.uuid4())
        end = started + timedelta(seconds=JOB_SECONDS)
        errors = [shapes.user_facing_error(failure[0], failure[1])] if failure else None
        job = shapes.backup_job(
            vault,
            instance,
            job_id=job_id,
            start=started,
            end=end,
            status="Failed" if failure else "Completed",
            errors=errors,
        )
        jobs.append(store.put(job))
        if failure is None and instance["properties"].get("protectionErrorDetails"):
            # The simulator's simplification: a backup that succeeds shows protection is healthy again.
            instance["properties"].update(shapes.protection({}))
            instance["properties"].pop("protectionErrorDetails", None)
    return jobs


def summary(jobs: list[Json]) -> list[dict[str, Any]]:
    """What the admin endpoint answers: instance, status and error code of each job."""
    out = []
    for job in jobs:
        props = job["properties"]
        errors = props.get("errorDetails") or []
        out.append(
            {
                "backupInstanceId": props["backupInstanceId"],
                "status": props["status"],
                "code": errors[0]["code"] if errors else None,
                "id": job["id"],
            }
        )
    return out
