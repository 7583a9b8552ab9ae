"""Cluster-changing fixes (only with ``GUARD_REMEDIATE_CLUSTER=true``; the planner enforces it).

- storage profile: GET the cluster, set ``storageProfile.diskCSIDriver`` / ``snapshotController``
  ``enabled: true`` and PUT the cluster back (long-running);
- the backup extension: PUT ``azure-aks-backup`` (long-running) with the configured storage
  location.

Both are safe to repeat: they re-read and skip the write when the state already holds.
"""

from __future__ import annotations

from typing import Any

from shared import ids
from shared.arm import ArmClients
from shared.gather.reader import parse
from shared.model import EXTENSION_TYPE, Outcome
from shared.remediation._state import state_of
from shared.remediation.plan import (
    EXTENSION_NAMESPACE,
    Action,
    ClusterStorageProfileParams,
    ExtensionInstallParams,
)
from shared.settings import Settings

_PROFILE_KEY = {"disk-csi-driver": "diskCSIDriver", "snapshot-controller": "snapshotController"}
_BSL = "configuration.backupStorageLocation."


def apply_cluster_storage_profile(action: Action, clients: ArmClients, settings: Settings) -> Outcome:
    """Enable one storage-profile feature; ``already-present`` when the fresh GET shows it enabled.

    Raises azure-core exceptions for :func:`shared.remediation.apply.apply` to classify.
    """
    params = action.params
    assert isinstance(params, ClusterStorageProfileParams)
    sub, rg, name = parse(params.cluster_id)
    aks = clients.container_service(sub)
    body: dict[str, Any] = aks.managed_clusters.get(rg, name).as_dict(exclude_readonly=True)
    properties = body.setdefault("properties", {})
    profile = properties.setdefault("storageProfile", {})
    key = _PROFILE_KEY[params.feature]
    if (profile.get(key) or {}).get("enabled") is True:
        return action.outcome("already-present", f"storageProfile.{key}.enabled is already true")
    profile[key] = {**(profile.get(key) or {}), "enabled": True}
    from azure.mgmt.containerservice.models import ManagedCluster

    result = aks.managed_clusters.begin_create_or_update(rg, name, ManagedCluster(body)).result()
    state = state_of(result)
    if state.lower() != "succeeded":
        return action.outcome("failed", f"cluster update ended {state}")
    return action.outcome("applied", f"storageProfile.{key}.enabled set to true")


def extension_body(params: ExtensionInstallParams) -> dict[str, Any]:
    """The extension PUT body (REST casing), as ``az k8s-extension create`` sends it for AKS backup."""
    if params.existing_configuration:
        settings = dict(params.existing_configuration)
        settings.setdefault("credentials.tenantId", params.tenant_id)
        return {
            "properties": {
                "extensionType": EXTENSION_TYPE,
                "autoUpgradeMinorVersion": True,
                "releaseTrain": "stable",
                "scope": {"cluster": {"releaseNamespace": EXTENSION_NAMESPACE}},
                "configurationSettings": settings,
            }
        }
    _, rg, account = parse(params.storage_account_id)
    return {
        "properties": {
            "extensionType": EXTENSION_TYPE,
            "autoUpgradeMinorVersion": True,
            "releaseTrain": "stable",
            "scope": {"cluster": {"releaseNamespace": EXTENSION_NAMESPACE}},
            "configurationSettings": {
                _BSL + "bucket": params.blob_container,
                _BSL + "config.storageAccount": account,
                _BSL + "config.resourceGroup": rg,
                _BSL + "config.subscriptionId": ids.subscription_of(params.storage_account_id),
                "credentials.tenantId": params.tenant_id,
            },
        }
    }


def apply_extension_install(action: Action, clients: ArmClients, settings: Settings) -> Outcome:
    """PUT the extension and wait for the LRO; ``applied`` when Succeeded, else ``failed``.

    Raises azure-core exceptions for :func:`shared.remediation.apply.apply` to classify.
    """
    params = action.params
    assert isinstance(params, ExtensionInstallParams)
    sub, rg, name = parse(params.cluster_id)
    ext = clients.extensions(sub).extensions
    result = ext.begin_create(
        rg,
        "Microsoft.ContainerService",
        "managedClusters",
        name,
        params.extension_name,
        extension_body(params),
    ).result()
    state = state_of(result)
    if state.lower() != "succeeded":
        return action.outcome("failed", f"extension {params.extension_name} ended {state}")
    verb = "re-applied" if params.repair else "installed"
    return action.outcome("applied", f"extension {params.extension_name} {verb}")
