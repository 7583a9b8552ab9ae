"""Route handlers, one module per resource provider. ``register_all`` adds them in match order."""

from __future__ import annotations

from localdev.azure_sim.router import Router
from localdev.azure_sim.routes import (
    authorization,
    blob,
    containerservice,
    dataprotection,
    extensions,
    network,
    policy,
    resources,
    storage,
)

__all__ = ["blob", "register_all"]


def register_all(router: Router) -> None:
    for module in (
        resources,
        containerservice,
        extensions,
        dataprotection,
        authorization,
        policy,
        storage,
        network,
        blob,  # last: its path-style template would match other two-segment paths
    ):
        module.register(router)
