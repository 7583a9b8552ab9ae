"""Resource provider registration: POST register, then poll until Registered within a bound."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from shared.arm import ArmClients
from shared.model import Outcome
from shared.remediation.plan import Action, ProviderParams
from shared.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


def apply_provider_registration(
    action: Action,
    clients: ArmClients,
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Register the namespace (one POST, skipped when already Registered) and wait up to
    ``settings.provider_wait_seconds`` for ``Registered``.

    ``applied`` when it registered in time; ``applied`` with a "still Registering" reason when the
    bound elapsed (ARM finishes on its own; the next check sees it); ``already-present`` when it
    already was registered. Safe to repeat. Raises azure-core exceptions for ``apply`` to classify.
    """
    params = action.params
    assert isinstance(params, ProviderParams)
    providers = clients.resources(params.subscription_id).providers
    state = str(getattr(providers.get(params.namespace), "registration_state", "") or "")
    if state.lower() == "registered":
        return action.outcome("already-present", f"{params.namespace} is Registered")
    if state.lower() != "registering":
        providers.register(params.namespace)
    deadline = time.monotonic() + settings.provider_wait_seconds
    while True:
        state = str(getattr(providers.get(params.namespace), "registration_state", "") or "")
        if state.lower() == "registered":
            return action.outcome("applied", f"{params.namespace} registered")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return action.outcome(
                "applied",
                f"registration requested; still {state or 'unknown'} after "
                f"{settings.provider_wait_seconds:g} s (ARM completes it on its own)",
            )
        log.debug("%s is %s; waiting", params.namespace, state)
        sleep(min(POLL_SECONDS, remaining))
