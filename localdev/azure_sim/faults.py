"""Fault injection rules (POST /_sim/faults): status codes, Retry-After, delays, dropped connections."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from localdev.azure_sim.store import Json


@dataclass
class FaultRule:
    method: str | None
    path: re.Pattern[str]
    status: int | None = None
    retry_after: float | None = None
    probability: float = 1.0
    count: int | None = None  # remaining hits; None = unlimited
    delay_ms: int = 0
    drop: bool = False

    @classmethod
    def from_json(cls, raw: Json) -> FaultRule:
        method = raw.get("method")
        count = raw.get("count")
        return cls(
            method=str(method).upper() if method else None,
            path=re.compile(str(raw.get("path", ".*")), re.IGNORECASE),
            status=int(raw["status"]) if raw.get("status") is not None else None,
            retry_after=float(raw["retry_after"]) if raw.get("retry_after") is not None else None,
            probability=float(raw.get("probability", 1.0) if raw.get("probability") is not None else 1.0),
            count=int(count) if count is not None else None,
            delay_ms=int(raw.get("delay_ms") or 0),
            drop=bool(raw.get("drop", False)),
        )


class Faults:
    def __init__(self, seed: int = 0) -> None:
        self.rules: list[FaultRule] = []
        self.rng = random.Random(seed)

    def set(self, rules: list[Json]) -> None:
        self.rules = [FaultRule.from_json(r) for r in rules]

    def clear(self) -> None:
        self.rules = []

    def pick(self, method: str, path: str) -> FaultRule | None:
        """The first rule that hits this request (consumes one of its ``count``)."""
        for rule in self.rules:
            if rule.method and rule.method != method.upper():
                continue
            if rule.count is not None and rule.count <= 0:
                continue
            if not rule.path.search(path):
                continue
            if rule.probability < 1.0 and self.rng.random() >= rule.probability:
                continue
            if rule.count is not None:
                rule.count -= 1
            return rule
        return None
