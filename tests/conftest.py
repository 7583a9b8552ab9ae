"""Session-wide real peers. Azurite is started once per test session and always stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localdev.azurite import Azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    node = Azurite.start()
    try:
        yield node
    finally:
        node.stop()


from tests.browser import browser  # noqa: E402,F401  (session fixture: one headless Chromium)
