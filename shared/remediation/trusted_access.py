"""Trusted access binding writes: one PUT (long-running) of a binding from the vault.

Safe to repeat: a new binding gets a deterministic name; a broken binding from the vault is
re-PUT under its own name with its roles plus backup-operator (existing roles kept).
"""

from __future__ import annotations

from shared.arm import ArmClients
from shared.gather.reader import parse
from shared.model import Outcome
from shared.remediation._state import state_of
from shared.remediation.plan import Action, TrustedAccessParams
from shared.settings import Settings


def apply_trusted_access(action: Action, clients: ArmClients, settings: Settings) -> Outcome:
    """PUT the binding and wait for the LRO; ``applied`` when it ends Succeeded, else ``failed``.

    Raises azure-core exceptions for :func:`shared.remediation.apply.apply` to classify.
    """
    params = action.params
    assert isinstance(params, TrustedAccessParams)
    sub, rg, cluster = parse(params.cluster_id)
    aks = clients.container_service(sub)
    from azure.mgmt.containerservice.models import TrustedAccessRoleBinding

    body = TrustedAccessRoleBinding(
        {"properties": {"sourceResourceId": params.vault_id, "roles": list(params.roles)}}
    )
    result = aks.trusted_access_role_bindings.begin_create_or_update(
        rg,
        cluster,
        params.binding_name,
        body,
    ).result()
    state = state_of(result)
    verb = "updated" if params.repair else "created"
    if state.lower() != "succeeded":
        return action.outcome("failed", f"binding {params.binding_name} {verb} but ended {state}")
    return action.outcome("applied", f"binding {params.binding_name} {verb}")
