"""Region tables from Microsoft's AKS backup support matrix, as data (like the role matrix).

Source: Microsoft Learn, "Azure Kubernetes Service backup support matrix", section "Supported
regions" (:data:`SOURCE`). Region names are ARM's location names (``West Europe`` -> ``westeurope``).
A region in neither table is one the page does not name (a new region, or a sovereign cloud
region it lists elsewhere): the Guard warns rather than guesses.
"""

from __future__ import annotations

SOURCE = "https://learn.microsoft.com/azure/backup/azure-kubernetes-service-cluster-backup-support-matrix"


def region_key(name: str) -> str:
    """ARM's location form: ``West Europe`` / ``westeurope`` / ``West-Europe`` -> ``westeurope``."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


_VAULT_AND_OPERATIONAL = (
    "Australia Central, Australia Central 2, Australia East, Australia Southeast, Brazil South, "
    "Brazil Southeast, Canada Central, Canada East, Central India, Central US, East Asia, East US, "
    "East US 2, France Central, France South, Germany North, Germany West Central, Italy North, "
    "Japan East, Japan West, Jio India West, Korea Central, Korea South, North Central US, North Europe, "
    "Norway East, Norway West, South Africa North, South Africa West, South Central US, South India, "
    "Southeast Asia, Sweden Central, Switzerland North, Switzerland West, UAE North, UK South, UK West, "
    "West Central US, West Europe, West US, West US 2, West US 3"
)
_OPERATIONAL_ONLY = (
    "China East 2, China East 3, China North 2, China North 3, US GOV Arizona, US GOV Texas, "
    "US GOV Virginia, Israel Central, Poland Central, Spain Central"
)

VAULT_TIER_REGIONS: frozenset[str] = frozenset(region_key(r) for r in _VAULT_AND_OPERATIONAL.split(","))
"""Regions where AKS backups can be stored in both the Vault and the Operational (snapshot) tier."""

OPERATIONAL_ONLY_REGIONS: frozenset[str] = frozenset(region_key(r) for r in _OPERATIONAL_ONLY.split(","))
"""Regions that support only the Operational (snapshot) tier: a vault-store rule fails there with
``DppUserErrorVaultTierPolicyNotSupported``."""
