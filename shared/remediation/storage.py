"""Storage network access: admit the vault by a resource-instance rule and the AzureServices bypass.

Reads the account fresh (GET) and PATCHes only ``properties.networkAcls``, carrying every existing
rule as read (ipRules, virtualNetworkRules, other resourceAccessRules, defaultAction, other
bypass flags). Safe to repeat: when nothing is missing no write happens (``already-present``).
"""

from __future__ import annotations

from typing import Any

from shared import ids
from shared.arm import ArmClients
from shared.gather.reader import parse
from shared.model import Outcome
from shared.remediation.plan import Action, StorageNetworkParams
from shared.settings import Settings


def merged_network_acls(acls: dict[str, Any], vault_id: str, tenant_id: str) -> dict[str, Any] | None:
    """``acls`` (REST shape) with the vault rule and AzureServices bypass added, or None when both
    are already there. Pure; every other key and rule is kept exactly as given."""
    merged = dict(acls)
    changed = False
    rules = list(acls.get("resourceAccessRules") or [])
    if not any(ids.same(str(rule.get("resourceId") or ""), vault_id) for rule in rules):
        rules.append({"tenantId": tenant_id, "resourceId": vault_id})
        merged["resourceAccessRules"] = rules
        changed = True
    bypass = [b.strip() for b in str(acls.get("bypass") or "").split(",") if b.strip()]
    if not any(b.lower() == "azureservices" for b in bypass):
        bypass = [b for b in bypass if b.lower() != "none"] + ["AzureServices"]
        merged["bypass"] = ", ".join(bypass)
        changed = True
    return merged if changed else None


def apply_storage_network(action: Action, clients: ArmClients, settings: Settings) -> Outcome:
    """GET the account, PATCH the merged networkAcls when something is missing.

    Raises azure-core exceptions for :func:`shared.remediation.apply.apply` to classify.
    """
    params = action.params
    assert isinstance(params, StorageNetworkParams)
    sub, rg, name = parse(params.account_id)
    accounts = clients.storage(sub).storage_accounts
    current = accounts.get_properties(rg, name).as_dict()
    acls = dict((current.get("properties") or {}).get("networkAcls") or {"defaultAction": "Allow"})
    merged = merged_network_acls(acls, params.vault_id, params.tenant_id)
    if merged is None:
        return action.outcome("already-present", "the vault rule and AzureServices bypass are already set")
    from azure.mgmt.storage.models import StorageAccountUpdateParameters

    accounts.update(rg, name, StorageAccountUpdateParameters({"properties": {"networkAcls": merged}}))
    return action.outcome(
        "applied", f"networkAcls now bypass {merged.get('bypass')}; other rules kept unchanged"
    )
