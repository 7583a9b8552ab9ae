"""``check --format junit`` validates against the Jenkins/Ant JUnit schema (tests/cli/junit-10.xsd)
that CI test-result publishers read, and says the same as the JSON report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from localdev.azure_sim.launcher import SimHandle
from shared.cli import main as cli_main
from shared.model import Finding, Fix, Status, Target
from shared.report.junit import JunitWriter
from tests.engine.conftest import demo_manifest

SCHEMA = xmlschema.XMLSchema(Path(__file__).with_name("junit-10.xsd"))
MANIFEST = demo_manifest()


def test_junit_report_is_valid_and_matches_the_json_report(cli_env: SimHandle, tmp_path: Path) -> None:
    xml_path, json_path = tmp_path / "r.xml", tmp_path / "r.json"
    assert cli_main(["check", "--format", "junit", "--output", str(xml_path)]) == 1
    assert cli_main(["check", "--format", "json", "--output", str(json_path)]) == 1
    SCHEMA.validate(str(xml_path))
    report = json.loads(json_path.read_text())
    suites = ET.parse(xml_path).getroot().findall("testsuite")
    assert len(suites) == len(report["targets"]) == len(MANIFEST["targets"])
    for suite, target in zip(suites, report["targets"], strict=True):
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["cluster_id"] == target["cluster_id"]
        cases = {c.get("name"): c for c in suite.findall("testcase")}
        assert set(cases) == {f["check"] for f in target["findings"]}
        for finding in target["findings"]:
            case = cases[finding["check"]]
            failure = case.find("failure")
            if finding["status"] in ("fail", "unknown"):
                assert failure is not None and finding["detail"] in (failure.text or "")
                if finding["fix"] and finding["fix"]["command"]:
                    assert finding["fix"]["command"] in (failure.text or "")
            else:
                assert failure is None
        failing = sum(1 for f in target["findings"] if f["status"] in ("fail", "unknown"))
        assert suite.get("failures") == str(failing)


def test_hostile_text_stays_valid_xml(tmp_path: Path) -> None:
    """Details carry ARM messages and tag values: markup and control characters must not break it."""
    from shared.gather.snapshot import unreadable_snapshot
    from shared.verification import Verification

    target = Target(
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerService/managedClusters/a<b>&\"c'",
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.DataProtection/backupVaults/v",
    )
    detail = 'tag value </failure><x y="1"> ]]> \x00\x07 end'
    findings = (Finding("role.vault-reader-on-cluster", Status.FAIL, detail, Fix("s & t", "az x --q '<y>'")),)
    out = tmp_path / "h.xml"
    with out.open("w", encoding="utf-8") as fh:
        writer = JunitWriter(fh)
        writer.add(Verification(target, unreadable_snapshot(target, "x"), findings))
        writer.close({}, ["vault <v>: HTTP 403"])
    SCHEMA.validate(str(out))
    failure = ET.parse(out).getroot().find(".//failure")
    assert (
        failure is not None
        and "</failure><x" in (failure.text or "")
        and "az x --q '<y>'" in (failure.text or "")
    )


@pytest.mark.parametrize("status", [Status.WARN, Status.NOT_APPLICABLE, Status.PASS])
def test_non_failing_statuses_are_not_failures(tmp_path: Path, status: Status) -> None:
    from shared.gather.snapshot import unreadable_snapshot
    from shared.verification import Verification

    target = Target(
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerService/managedClusters/a",
        "/subscriptions/s/resourceGroups/r/providers/Microsoft.DataProtection/backupVaults/v",
    )
    out = tmp_path / "s.xml"
    with out.open("w", encoding="utf-8") as fh:
        writer = JunitWriter(fh)
        writer.add(
            Verification(target, unreadable_snapshot(target, "x"), (Finding("network.egress", status, "d"),))
        )
        writer.close({}, [])
    SCHEMA.validate(str(out))
    assert ET.parse(out).getroot().find(".//failure") is None
