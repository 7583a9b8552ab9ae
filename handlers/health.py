"""``GET /api/health``: is the app configured? Never reveals a secret or a setting's value."""

from __future__ import annotations

import json

import azure.functions as func

from shared.errors import ConfigError
from shared.settings import Settings

bp = func.Blueprint()


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        problem = {"status": "misconfigured", "problem": str(exc)}
        return func.HttpResponse(json.dumps(problem), status_code=503, mimetype="application/json")
    body: dict[str, object] = {
        "status": "ok",
        "mode": settings.mode,
        "remediate_cluster": settings.remediate_cluster,
        "subscriptions": len(settings.subscriptions),
        "ledger": settings.storage.configured,
    }
    return func.HttpResponse(json.dumps(body), status_code=200, mimetype="application/json")
