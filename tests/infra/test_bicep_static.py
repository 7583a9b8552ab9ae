"""Static checks of the Bicep wiring (no Bicep compiler installs from the package registries here).

If a ``bicep`` binary is on PATH (an operator's machine, CI with the Azure CLI's Bicep), the last
test also compiles main.bicep; otherwise it is skipped and says so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.infra import bicep

MAIN = bicep.INFRA / "main.bicep"


def _module_params(block: bicep.Block) -> set[str]:
    match = re.search(r"\bparams\s*:\s*\{", block.body)
    assert match, f"module {block.symbol} passes no params"
    start = match.end() - 1
    inner = block.body[start + 1 : bicep.block_end(block.body, start) - 1]
    names, depth = set(), 0
    for line in inner.splitlines():
        if depth == 0:
            key = re.match(r"^\s*(\w+)\s*:", line)
            if key:
                names.add(key.group(1))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return names


def test_every_file_has_balanced_blocks() -> None:
    for path in bicep.bicep_files():
        text = bicep.strip_comments(path.read_text(encoding="utf-8"))
        for open_ch, close_ch in ("{}", "[]", "()"):
            assert text.count(open_ch) == text.count(close_ch), (path.name, open_ch)
        assert bicep.blocks(path) or path.name == "main.bicep", path.name


def test_modules_exist_and_get_exactly_their_parameters() -> None:
    for path in bicep.bicep_files():
        for block in bicep.blocks(path):
            if block.kind != "module":
                continue
            target = (path.parent / block.type).resolve()
            assert target.is_file(), f"{path.name}: module {block.type} does not exist"
            declared = bicep.params(target)
            passed = _module_params(block)
            assert passed - set(declared) == set(), f"{block.symbol}: unknown params {passed - set(declared)}"
            required = {name for name, has_default in declared.items() if not has_default}
            assert required - passed == set(), f"{block.symbol}: missing params {required - passed}"


def test_main_parameters_match_main_bicep() -> None:
    doc = json.loads((bicep.INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    declared = bicep.params(MAIN)
    assert set(doc["parameters"]) <= set(declared)
    required = {name for name, has_default in declared.items() if not has_default}
    assert required <= set(doc["parameters"])


def test_flex_consumption_conventions() -> None:
    text = (bicep.INFRA / "app" / "function.bicep").read_text(encoding="utf-8")
    for snippet in (
        "kind: 'functionapp,linux'",
        "sku: { tier: 'FlexConsumption', name: 'FC1' }",
        "runtime: { name: 'python', version: '3.11' }",
        "type: 'UserAssignedIdentity'",
        "scaleAndConcurrency:",
        "type: 'UserAssigned'",
        "keyVaultReferenceIdentity: guardIdentityId",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${guardClientId};Authorization=AAD'",
    ):
        assert snippet in text, snippet
    assert "DisableLocalAuth: true" in (bicep.INFRA / "app" / "monitoring.bicep").read_text(encoding="utf-8")
    main = MAIN.read_text(encoding="utf-8")
    assert "targetScope = 'subscription'" in main
    assert "scope: subscription(sub)" in main and "for sub in subscriptions" in main
    watched = (bicep.INFRA / "app" / "watched-subscription.bicep").read_text(encoding="utf-8")
    assert "targetScope = 'subscription'" in watched


def test_azure_yaml_deploys_the_function_service() -> None:
    doc = yaml.safe_load((bicep.ROOT / "azure.yaml").read_text(encoding="utf-8"))
    service = doc["services"]["guard"]
    assert service["host"] == "function" and service["language"] == "python"
    assert doc["infra"]["path"] == "infra"
    assert "'azd-service-name': 'guard'" in MAIN.read_text(encoding="utf-8")


def _compiler() -> list[str] | None:
    if shutil.which("bicep"):
        return ["bicep"]
    if shutil.which("az"):
        probe = subprocess.run(["az", "bicep", "version"], capture_output=True, text=True, check=False)
        if probe.returncode == 0:
            return ["az", "bicep"]
    return None


def test_main_bicep_compiles(tmp_path: Path) -> None:
    compiler = _compiler()
    if compiler is None:
        pytest.skip("no Bicep compiler on PATH (none installs from PyPI/npm); static checks only")
    out = tmp_path / "main.json"
    target = ["--file", str(MAIN)] if compiler[0] == "az" else [str(MAIN)]
    result = subprocess.run(
        [*compiler, "build", *target, "--outfile", str(out)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["resources"]


def _event_grid_function_names() -> set[str]:
    """Names of Event Grid triggered functions in handlers/ (def name, or a function_name decorator)."""
    import ast

    names: set[str] = set()
    for path in sorted((bicep.ROOT / "handlers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = [
                d
                for d in node.decorator_list
                if isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute)
            ]
            if not any(
                c.func.attr == "event_grid_trigger" for c in calls if isinstance(c.func, ast.Attribute)
            ):
                continue
            explicit = [
                c.args[0].value
                for c in calls
                if isinstance(c.func, ast.Attribute)
                and c.func.attr == "function_name"
                and c.args
                and isinstance(c.args[0], ast.Constant)
            ]
            names.add(str(explicit[0]) if explicit else node.name)
    return names


def test_event_subscriptions_target_the_event_grid_function() -> None:
    names = _event_grid_function_names()
    if not names:
        pytest.skip("no Event Grid triggered function in handlers/ yet")
    default = re.search(
        r"^param eventFunctionName string = '([^']+)'", MAIN.read_text(encoding="utf-8"), re.M
    )
    assert default and default.group(1) in names, (default and default.group(1), names)
