"""Request counters for /_sim/requests: total, by method, by template, by subscription, and a log.

Each log entry carries ``start`` and ``end``: the simulator's ``time.monotonic()`` when the request
reached the handler and when its response was ready (the configured latency included). On Linux
that clock is system-wide, so a benchmark can line the entries up with its own monotonic stamps.
"""

from __future__ import annotations

from collections import Counter, deque

from localdev.azure_sim.store import Json

LOG_LIMIT = 200_000  # the log keeps the most recent entries; the counters are exact


class Counters:
    def __init__(self) -> None:
        self.total = 0
        self.by_method: Counter[str] = Counter()
        self.by_template: Counter[str] = Counter()
        self.by_subscription: Counter[str] = Counter()
        self.log: deque[Json] = deque(maxlen=LOG_LIMIT)

    def record(
        self,
        *,
        method: str,
        path: str,
        template: str,
        subscription: str | None,
        status: int,
        principal: str | None,
        data_plane: bool = False,
        start: float = 0.0,
        end: float = 0.0,
    ) -> None:
        self.total += 1
        self.by_method[method] += 1
        self.by_template[template] += 1
        if subscription:
            self.by_subscription[subscription] += 1
        self.log.append(
            {
                "method": method,
                "path": path,
                "template": template,
                "subscription": subscription,
                "status": status,
                "principal": principal,
                "data_plane": data_plane,
                "start": start,
                "end": end,
            }
        )

    def snapshot(self, *, log: bool = True) -> Json:
        out: Json = {
            "total": self.total,
            "by_method": dict(self.by_method),
            "by_template": dict(self.by_template),
            "by_subscription": dict(self.by_subscription),
        }
        if log:
            out["log"] = list(self.log)
        return out

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]
