"""Fixtures: a Ledger on the session's Azurite with fresh tables per test, and a request counter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev.azurite import Azurite
from shared.ledger.ledger import Ledger
from tests.ledger.support import CountingTransport, make_ledger


@pytest.fixture
def counter() -> CountingTransport:
    return CountingTransport()


@pytest.fixture
def ledger(azurite: Azurite, counter: CountingTransport) -> Iterator[Ledger]:
    led = make_ledger(azurite, transport=counter, renotify_hours=24)
    counter.reset()
    yield led
