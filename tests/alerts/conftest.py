"""Real peers for alert delivery: Teams receiver, SMTP server with STARTTLS, ACS Email endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from localdev.azurite import Azurite
from localdev.receivers.acs import AcsEmailReceiver
from localdev.receivers.smtp import SmtpReceiver
from localdev.receivers.teams import TeamsReceiver
from shared.ledger.ledger import Ledger
from tests.ledger.support import make_ledger


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ledger(azurite: Azurite) -> Ledger:
    return make_ledger(azurite, renotify_hours=24)


@pytest.fixture
def teams() -> Iterator[TeamsReceiver]:
    with TeamsReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def smtp(ca: trustme.CA) -> Iterator[SmtpReceiver]:
    with SmtpReceiver(ca=ca) as receiver:
        yield receiver


@pytest.fixture
def acs(ca: trustme.CA) -> Iterator[AcsEmailReceiver]:
    with AcsEmailReceiver(ca=ca, polls_until_done=2) as receiver:
        yield receiver
