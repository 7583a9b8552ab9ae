"""The CLI as an operator runs it: against the simulator with the demo estate, over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from tests.engine.conftest import DEMO, demo_subscriptions


@pytest.fixture(scope="module")
def cli_sim() -> Iterator[SimHandle]:
    with running_simulator(DEMO) as sim:
        yield sim


@pytest.fixture()
def cli_env(cli_sim: SimHandle, monkeypatch: pytest.MonkeyPatch) -> SimHandle:
    for name, value in cli_sim.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GUARD_SUBSCRIPTIONS", ",".join(demo_subscriptions()))
    for name in (
        "AzureWebJobsStorage",
        "GUARD_STORAGE_CONNECTION",
        "AzureWebJobsStorage__accountName",
        "COLUMNS",
    ):
        monkeypatch.delenv(name, raising=False)
    return cli_sim
