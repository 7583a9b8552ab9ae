"""Azure Functions entry point: registers the blueprints in ``handlers/`` and nothing else."""

import azure.functions as func

from handlers.alerts import bp as alerts_bp
from handlers.events import bp as events_bp
from handlers.http import bp as http_bp
from handlers.scan import bp as scan_bp
from handlers.worker import bp as worker_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (http_bp, events_bp, scan_bp, worker_bp, alerts_bp):
    app.register_functions(blueprint)
