"""A simulator seeded with the demo estate, and helpers to run the engine against it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from localdev.azure_sim.launcher import SimHandle, running_simulator
from shared.arm import ArmClients
from shared.settings import Settings

ESTATES = Path(__file__).resolve().parents[2] / "localdev" / "estates"
DEMO = ESTATES / "demo.yaml"


def demo_manifest() -> dict[str, Any]:
    with (ESTATES / "demo.expected.yaml").open(encoding="utf-8") as fh:
        return dict(yaml.safe_load(fh))


def demo_subscriptions() -> list[str]:
    with DEMO.open(encoding="utf-8") as fh:
        estate = yaml.safe_load(fh)
    return [str(sub["id"]) for sub in estate["subscriptions"]]


def settings_for(sim: SimHandle, subscriptions: list[str], **extra: str) -> Settings:
    env = {**sim.env(), "GUARD_SUBSCRIPTIONS": ",".join(subscriptions), **extra}
    return Settings.from_env(env)


@pytest.fixture(scope="module")
def demo_sim() -> Iterator[SimHandle]:
    with running_simulator(DEMO) as sim:
        yield sim


@pytest.fixture()
def demo_clients(demo_sim: SimHandle) -> Iterator[ArmClients]:
    clients = ArmClients(settings_for(demo_sim, demo_subscriptions()).arm)
    yield clients
    clients.close()
