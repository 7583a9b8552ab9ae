"""Azure Functions blueprints: thin trigger adapters over the core in ``shared``."""
