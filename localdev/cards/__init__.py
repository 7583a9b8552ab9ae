"""Check Teams cards with Microsoft's Adaptive Cards library (``check_cards.js``, run with node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("check_cards.js")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CardCheck:
    version: str
    events: list[str]  # parse/validation events of the adaptivecards library (empty: valid)
    links: list[str]  # every href the card's markdown renders to


def check_cards(bodies: list[dict[str, Any]]) -> list[CardCheck]:
    """Run the node checker on Workflows webhook bodies (needs ``npm ci``: adaptivecards, markdown-it)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is required to check Adaptive Cards (see the Makefile's setup)")
    done = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(bodies),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"check_cards.js failed: {done.stderr.strip()[-2000:]}")
    return [CardCheck(r["version"], r["events"], r["links"]) for r in json.loads(done.stdout)]
