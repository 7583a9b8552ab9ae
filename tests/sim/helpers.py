"""Shared test helpers: the small estate's ids and real azure-mgmt SDK clients against the simulator."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken

from localdev.azure_sim.launcher import SimHandle

ESTATE = Path(__file__).with_name("estate_small.yaml")
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUB1 = "0b1f6471-1bf0-4dda-aec3-111111111111"
SUB2 = "0b1f6471-1bf0-4dda-aec3-222222222222"
GUARD = "00000000-0000-0000-0000-00000000a001"
ADMIN = "00000000-0000-0000-0000-00000000ad01"
VAULT_PRINCIPAL = "11111111-0000-0000-0000-000000000001"
LATE_PRINCIPAL = "99999999-0000-0000-0000-000000000001"
CLUSTER_PRINCIPAL = "22222222-0000-0000-0000-000000000001"
EXT_PRINCIPAL = "44444444-0000-0000-0000-000000000001"
USER_PRINCIPAL = "55555555-0000-0000-0000-00000000d001"
GROUP_PRINCIPAL = "66666666-0000-0000-0000-00000000e001"
RG_AKS = f"/subscriptions/{SUB1}/resourceGroups/rg-aks"
RG_BACKUP = f"/subscriptions/{SUB1}/resourceGroups/rg-backup"
RG_SNAP = f"/subscriptions/{SUB1}/resourceGroups/rg-snap"
CLUSTER = f"{RG_AKS}/providers/Microsoft.ContainerService/managedClusters/aks-prod-1"
VAULT = f"{RG_BACKUP}/providers/Microsoft.DataProtection/backupVaults/bv-prod"
ACCOUNT = f"{RG_BACKUP}/providers/Microsoft.Storage/storageAccounts/stbackup1"
RG_NET = f"/subscriptions/{SUB1}/resourceGroups/rg-net"
SUBNET = f"{RG_NET}/providers/Microsoft.Network/virtualNetworks/vnet-aks/subnets/nodes"
NSG = f"{RG_NET}/providers/Microsoft.Network/networkSecurityGroups/nsg-nodes"
RG_DEV = f"/subscriptions/{SUB2}/resourceGroups/rg-dev"
DEV_CLUSTER = f"{RG_DEV}/providers/Microsoft.ContainerService/managedClusters/aks-dev-1"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
SCOPES = ["https://management.azure.com/.default"]


class StaticToken:
    """A token credential that always returns the same bearer token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 24 * 3600)


def kwargs(sim: SimHandle) -> dict[str, Any]:
    return {
        "base_url": sim.endpoint,
        "credential_scopes": SCOPES,
        "connection_verify": sim.ca_bundle,
        "retry_backoff_factor": 0.05,
    }


def cred(sim: SimHandle, admin: bool = False) -> StaticToken:
    return StaticToken(str(sim.admin_token) if admin else sim.token)


def by_template(sim: SimHandle) -> dict[str, int]:
    return dict(sim.requests(log=False)["by_template"])
