"""docs/ stands alone and stays in step with the code: the checks catalogue is generated from the
code's tables, the runbook and the settings page cover every check and setting, and nothing in
the repository points at design files outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared.catalog import CHECKS
from shared.docs_export import CHECKS_DOC, render_checks
from tests.infra.test_settings_coverage import code_settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_checks_catalogue_is_generated_from_the_code() -> None:
    assert CHECKS_DOC.read_text(encoding="utf-8") == render_checks(), (
        "docs/checks.md is stale: run `make docs`"
    )
    text = CHECKS_DOC.read_text(encoding="utf-8")
    assert all(f"| `{check}` |" in text for check in CHECKS)


def test_runbook_has_an_entry_for_every_check() -> None:
    text = (DOCS / "runbook.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `([^`]+)`", text, re.MULTILINE))
    missing = [
        c for c in CHECKS if c not in headings and not (c.startswith("role.") and "role.*" in headings)
    ]
    assert missing == [], f"docs/runbook.md has no '### `<check id>`' entry for {missing}"


def test_settings_page_names_every_setting_the_code_reads() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z][A-Za-z0-9_]+)`", text))
    prefixed = {f"AzureWebJobsStorage{suffix}" for suffix in re.findall(r"`(__[A-Za-z]+)`", text)}
    missing = sorted(code_settings() - documented - prefixed)
    assert missing == [], f"document these in docs/settings.md: {missing}"


def test_nothing_points_at_design_files_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    offenders = []
    for name in tracked:
        path = ROOT / name
        if (
            path.suffix not in (".py", ".md", ".bicep", ".yaml", ".yml", ".json", ".toml", ".txt")
            or not path.is_file()
        ):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for needle in ("DESIGN.md", "AZURE_FACTS.md", "DESIGN section"):
            if needle in text and path != Path(__file__):
                offenders.append(f"{name}: {needle}")
    assert offenders == []
