"""Azure Functions entry point: registers the blueprints in ``handlers/`` and nothing else."""

import azure.functions as func

from handlers.health import bp as health_bp

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(health_bp)
