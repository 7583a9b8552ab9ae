"""Finding comparison between the scan and the sequential reference (bench/findings.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.findings import differences, line, load

T1 = "/subscriptions/s/resourcegroups/rg/providers/microsoft.containerservice/managedclusters/c1|vault"
T2 = T1.replace("c1", "c2")


def test_identical_findings_have_no_differences(tmp_path: Path) -> None:
    path = tmp_path / "a.tsv"
    path.write_text(line(T1, "role.reader", "pass") + line(T2, "role.reader", "fail"), encoding="utf-8")
    assert differences(load(path), load(path)) == []


def test_a_changed_status_and_a_missing_finding_both_count() -> None:
    scan = {(T1, "role.reader"): "pass", (T1, "extension.installed"): "pass", (T2, "role.reader"): "unknown"}
    reference = {
        (T1, "role.reader"): "pass",
        (T1, "extension.installed"): "pass",
        (T2, "role.reader"): "fail",
    }
    reference[(T2, "extension.installed")] = "pass"
    diffs = differences(scan, reference)
    assert diffs == [
        ((T2, "extension.installed"), None, "pass"),
        ((T2, "role.reader"), "unknown", "fail"),
    ]


def test_a_scan_only_check_missing_from_the_reference_is_not_a_difference() -> None:
    scan = {(T1, "storage.container-not-shared"): "pass", (T1, "role.reader"): "pass"}
    reference = {(T1, "role.reader"): "pass"}
    assert differences(scan, reference, left_only=frozenset({"storage.container-not-shared"})) == []
    assert differences(scan, reference) == [((T1, "storage.container-not-shared"), "pass", None)]
    # it still counts when the reference has it too, or when only the reference has it
    both = {**reference, (T1, "storage.container-not-shared"): "fail"}
    assert len(differences(scan, both, left_only=frozenset({"storage.container-not-shared"}))) == 1
    assert len(differences(reference, scan, left_only=frozenset({"storage.container-not-shared"}))) == 1


def test_a_finding_written_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "twice.tsv"
    path.write_text(line(T1, "role.reader", "pass") * 2, encoding="utf-8")
    with pytest.raises(ValueError, match="twice"):
        load(path)


def test_a_field_with_a_tab_is_refused() -> None:
    with pytest.raises(ValueError):
        line("a\tb", "check", "pass")
