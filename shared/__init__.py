"""AKS Backup Guard core: everything the Function App handlers and the CLI call."""
