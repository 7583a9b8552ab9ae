"""Estate files by name: the generator writes JSON into a ``.json`` name (the simulator reads such
names as JSON), and the simulator refuses a bad estate file in one line, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from localdev.azure_sim.estate import read_estate
from localdev.estates.generate import dump, generate_estate


def test_generator_writes_json_to_a_json_name_and_yaml_otherwise(tmp_path: Path) -> None:
    estate = generate_estate(20, 2, seed=4)
    as_json, as_yaml = tmp_path / "e.json", tmp_path / "e.yaml"
    dump(estate, as_json)
    dump(estate, as_yaml)
    assert json.loads(as_json.read_text(encoding="utf-8")) == estate
    assert yaml.safe_load(as_yaml.read_text(encoding="utf-8")) == estate
    assert read_estate(as_json) == read_estate(as_yaml) == estate


def test_simulator_rejects_a_bad_estate_in_one_line(tmp_path: Path) -> None:
    yaml_in_json = tmp_path / "estate.json"
    yaml_in_json.write_text("subscriptions: []\n", encoding="utf-8")
    for estate, expected in ((yaml_in_json, "is not JSON"), (tmp_path / "missing.yaml", "No such file")):
        done = subprocess.run(
            [sys.executable, "-m", "localdev.azure_sim", "--estate", str(estate)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
        assert expected in done.stderr and done.stdout == ""
