"""Case-insensitive path templates -> handlers; the template text is also the counter key."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from localdev.azure_sim.context import Ctx

Handler = Callable[["Ctx"], Awaitable[web.StreamResponse]]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _compile(template: str) -> re.Pattern[str]:
    out = []
    pos = 0
    for match in _PLACEHOLDER.finditer(template):
        out.append(re.escape(template[pos : match.start()]))
        name = match.group(1)
        if name == "scope":
            out.append(r"(?P<scope>(?:/[^/?]+)*?)")
        else:
            out.append(rf"(?P<{name}>[^/?]+)")
        pos = match.end()
    out.append(re.escape(template[pos:]))
    return re.compile("".join(out) + "/?", re.IGNORECASE)


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    data_plane: bool = False
    label: str = ""  # the counter key (defaults to the template)


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, methods: str, template: str, handler: Handler, *, data_plane: bool = False, label: str = ""
    ) -> None:
        """``methods`` is space separated, e.g. ``"GET PUT"``; routes match in the order added."""
        self.routes.append(
            Route(
                frozenset(methods.upper().split()),
                template,
                _compile(template),
                handler,
                data_plane,
                label or template,
            )
        )

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): path_known is True when some route matched the path only."""
        path_known = False
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if not found:
                continue
            if method.upper() in route.methods:
                return route, {k: v or "" for k, v in found.groupdict().items()}, True
            path_known = True
        return None, {}, path_known
