"""Every setting the code reads is set by the Bicep (or exempt here, with the reason).

Names are derived from the code, not listed by hand: every string literal read from the
environment (``reader.text("X")``, ``env.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``) in
shared/, handlers/ and function_app.py, and every ``%X%`` binding expression in the handlers.
So a setting added later fails this test until the Bicep sets it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.infra import bicep

SOURCES = [bicep.ROOT / "shared", bicep.ROOT / "handlers", bicep.ROOT / "function_app.py"]

EXEMPT = {
    "GUARD_ARM_CA_BUNDLE": "local simulator only (its CA); Azure uses the system trust store",
    "GUARD_ARM_TOKEN": "local simulator only (static token); Azure uses the managed identity",
    "GUARD_STORAGE_CONNECTION": "connection string: the deployed app uses identity (AzureWebJobsStorage__*)",
    "AzureWebJobsStorage": "connection string: replaced by AzureWebJobsStorage__accountName/__credential",
    "GUARD_ACS_CONNECTION_STRING": "key-based ACS: deployed app uses GUARD_ACS_ENDPOINT + identity",
    "GUARD_SMTP_CA_BUNDLE": "test SMTP peer only; real relays use public CAs",
    "GUARD_ACS_CA_BUNDLE": "test ACS peer only",
    "COLUMNS": "the CLI's terminal width (set by shells), not an app setting",
    "GUARD_PROGRESS_DELAY_SECONDS": "the CLI's progress line on a terminal, not an app setting",
}
"""Settings deliberately not set in Azure. The test fails if the Bicep sets one of them anyway."""

REQUIRED_BY_ARCHITECTURE = {"DRIFT_SCAN_SCHEDULE", "GUARD_PRINCIPAL_ID", "AZURE_CLIENT_ID"}
"""docs/architecture.md ("Runtime shape") names these even before a handler reads them."""

_READER_METHODS = {"optional", "text", "secret", "csv", "boolean", "number", "integer", "get", "getenv"}
_ENV_RECEIVERS = {"reader", "env", "environ", "_env", "os"}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_BINDING = re.compile(r"%([A-Z][A-Z0-9_]{2,})%")  # app-setting names, not strftime codes


def _receiver(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def names_read(source: str) -> set[str]:
    """Environment names read with a string literal in one module's source."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            first = node.args[0]
            if (
                node.func.attr in _READER_METHODS
                and _receiver(node.func.value) in _ENV_RECEIVERS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and _NAME.match(first.value)
            ):
                found.add(first.value)
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _receiver(node.value) in _ENV_RECEIVERS
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            found.add(node.slice.value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.update(_BINDING.findall(node.value))
    return found


def code_settings() -> set[str]:
    files: list[Path] = []
    for src in SOURCES:
        files += sorted(src.rglob("*.py")) if src.is_dir() else [src]
    names: set[str] = set()
    for file in files:
        names |= names_read(file.read_text(encoding="utf-8"))
    return names


def test_the_scanner_finds_the_settings_module_names() -> None:
    names = code_settings()
    assert {
        "GUARD_SUBSCRIPTIONS",
        "GUARD_MODE",
        "AzureWebJobsStorage__accountName",
        "GUARD_SMTP_PASSWORD",
    } <= names
    assert len(names) >= 40


def test_every_setting_the_code_reads_is_set_in_the_bicep() -> None:
    settings = bicep.app_settings()
    missing = sorted((code_settings() | REQUIRED_BY_ARCHITECTURE) - settings - set(EXEMPT))
    assert missing == [], f"set these in infra/app/function.bicep (or exempt them with a reason): {missing}"


def test_exempt_settings_are_not_set_and_still_read() -> None:
    settings = bicep.app_settings()
    assert sorted(set(EXEMPT) & settings) == []
    assert sorted(set(EXEMPT) - code_settings()) == [], "an exemption for a setting the code no longer reads"


def test_identity_based_storage_and_key_vault_references() -> None:
    text = (bicep.INFRA / "app" / "function.bicep").read_text(encoding="utf-8")
    assert "AzureWebJobsStorage__credential: 'managedidentity'" in text
    assert "AzureWebJobsStorage__clientId: guardClientId" in text
    assert "GUARD_TEAMS_WEBHOOK_URL: teamsWebhookSetting" in text
    assert "GUARD_SMTP_PASSWORD: smtpPasswordSetting" in text
    assert text.count("@Microsoft.KeyVault(SecretUri=") == 2
    # each routing-table receiver's webhook: a Key Vault reference given as a parameter, merged in
    assert "properties: union(receiverWebhookSettings, {" in text
    assert "allowSharedKeyAccess: false" in (bicep.INFRA / "app" / "storage.bicep").read_text(
        encoding="utf-8"
    )


def test_no_secret_is_an_output_or_a_plain_parameter() -> None:
    for path in bicep.bicep_files():
        text = bicep.strip_comments(path.read_text(encoding="utf-8"))
        for secret in ("teamsWebhookUrl", "smtpPassword"):
            for match in re.finditer(rf"^param {secret}\b", text, re.MULTILINE):
                before = text[: match.start()].rstrip().splitlines()
                assert "@secure()" in before[-2:], f"{path.name}: {secret} is not @secure()"
            outputs = re.findall(r"^output .*$", text, re.MULTILINE)
            assert not [o for o in outputs if re.search(rf"=.*\b{secret}\b(?!\))", o)], (path.name, outputs)


def test_a_new_setting_in_the_code_would_be_caught() -> None:
    source = 'def f(reader, env):\n    reader.integer("GUARD_NEW_QUEUE_SIZE", 1, minimum=1)\n'
    source += '    env.get("SCAN_QUEUE")\n'
    source += '@app.timer_trigger(schedule="%NEW_SCHEDULE%", arg_name="t")\ndef g(t): ...\n'
    new = names_read(source)
    assert new == {"GUARD_NEW_QUEUE_SIZE", "SCAN_QUEUE", "NEW_SCHEDULE"}
    assert new - bicep.app_settings() == new
