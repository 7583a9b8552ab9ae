"""Runs last (file order): no secret handed out during the suite reached any log record.

The capture (``conftest.CAPTURE``) holds every record logged at DEBUG and above during the whole
session, formatted with its message, arguments, extras and traceback text.
"""

from __future__ import annotations

import pytest

from tests.chaos.conftest import CAPTURE, SECRETS

pytestmark = pytest.mark.chaos


def test_logs_of_the_whole_suite_contain_no_secret() -> None:
    assert CAPTURE.lines, "nothing was captured: the log capture is not installed"
    leaks = {
        name: next(line for line in CAPTURE.lines if value in line)[:300]
        for name, value in SECRETS.items()
        if value and any(value in line for line in CAPTURE.lines)
    }
    assert leaks == {}
