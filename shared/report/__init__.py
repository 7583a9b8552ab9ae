"""Report formats shared by the CLI and the Function App: JUnit XML for CI, a self-contained HTML page."""
