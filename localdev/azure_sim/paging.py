"""ARM list paging: ``{"value": [...], "nextLink": <absolute URL with $skiptoken>}``."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from aiohttp import web

from localdev.azure_sim.context import Ctx, json_response
from localdev.azure_sim.store import Json


def page(ctx: Ctx, items: Sequence[Json]) -> web.Response:
    try:
        start = max(0, int(ctx.query.get("$skiptoken", "0")))
    except ValueError:
        start = 0
    size = max(1, ctx.config.page_size)
    body: Json = {"value": list(items[start : start + size])}
    if start + size < len(items):
        query = [(k, v) for k, v in ctx.query.items() if k != "$skiptoken"]
        query.append(("$skiptoken", str(start + size)))
        body["nextLink"] = f"{ctx.base_url}{ctx.request.path}?{urlencode(query)}"
    return json_response(body)
