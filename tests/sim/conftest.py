"""One simulator per test module (module-scoped), started from tests/sim/estate_small.yaml."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev.azure_sim.launcher import SimHandle, running_simulator
from tests.sim.helpers import ESTATE


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(ESTATE, page_size=2) as handle:
        yield handle
