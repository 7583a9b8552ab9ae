"""Test support: a request-counting transport and Ledgers with fresh tables on Azurite."""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from typing import Any

from azure.core.pipeline.transport import HttpRequest, RequestsTransport

from localdev.azurite import Azurite
from shared.ledger.ledger import Ledger
from shared.settings import Secret, StorageSettings
from shared.storage_clients import table_service_client

_ids = itertools.count()


class CountingTransport(RequestsTransport):
    """A real requests transport that counts every HTTP request it sends, by (method, kind)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def send(self, request: HttpRequest, **kwargs: Any) -> Any:
        path, _, query = request.url.partition("?")
        if path.endswith("/$batch"):
            kind = "batch"
        elif request.method == "GET" and ("filter=" in query or path.endswith("()")):
            kind = "query"
        elif path.endswith(")"):
            kind = "entity"
        else:
            kind = "insert" if request.method == "POST" else "table"
        with self._lock:
            self.counts[(request.method, kind)] += 1
        return super().send(request, **kwargs)

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()

    @property
    def writes(self) -> int:
        return sum(n for (method, _), n in self.counts.items() if method != "GET")

    @property
    def batches(self) -> int:
        return sum(n for (_, kind), n in self.counts.items() if kind == "batch")

    @property
    def reads(self) -> int:
        return sum(n for (method, _), n in self.counts.items() if method == "GET")


def unique_prefix() -> str:
    return f"t{next(_ids)}p{os.getpid() % 100000}"


def make_ledger(azurite: Azurite, *, prefix: str | None = None, **kwargs: Any) -> Ledger:
    """A Ledger with its own fresh tables on Azurite; ``kwargs`` go to Ledger (or ``transport``)."""
    transport = kwargs.pop("transport", None)
    settings = StorageSettings(connection_string=Secret(azurite.connection_string))
    service = table_service_client(settings, **({"transport": transport} if transport else {}))
    led = Ledger(service, prefix=prefix or unique_prefix(), **kwargs)
    led.create_tables()
    return led
