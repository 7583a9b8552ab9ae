"""``check --format html`` loaded in real headless Chromium: the matrix as rendered, the filters
by status and subscription, the fixes. Expectations come from the demo estate's manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localdev.azure_sim.launcher import SimHandle
from shared import ids
from shared.cli import main as cli_main
from shared.report.html import GROUPS, group_of
from tests.engine.conftest import demo_manifest

MANIFEST = demo_manifest()


def visible_clusters(page: Any) -> set[str]:
    return set(
        page.eval_on_selector_all(
            "tbody.target:not(.hidden)", "rows => rows.map(r => r.dataset.cluster.toLowerCase())"
        )
    )


def test_html_report_matrix_and_filters_in_chromium(cli_env: SimHandle, tmp_path: Path, browser: Any) -> None:
    html, as_json = tmp_path / "report.html", tmp_path / "report.json"
    assert cli_main(["check", "--format", "html", "--output", str(html)]) == 1
    cli_main(["check", "--format", "json", "--output", str(as_json)])
    report = json.loads(as_json.read_text())
    text = html.read_text(encoding="utf-8")
    assert (
        "http://" not in text.replace("http://www.w3.org", "") and "<link" not in text and " src=" not in text
    )

    page = browser.new_page()
    page.route(
        "**/*",
        lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_(),
    )
    page.goto(html.as_uri())
    headers = page.eval_on_selector_all(
        "table.matrix thead th[data-group]", "ths => ths.map(t => t.dataset.group)"
    )
    assert headers == list(GROUPS)
    assert page.locator("tbody.target").count() == len(MANIFEST["targets"])
    assert page.text_content("#shown") == str(len(MANIFEST["targets"]))

    # every cell shows the worst status of its group, as the JSON report says
    for target in report["targets"]:
        row = page.locator(
            f'tbody.target[data-cluster="{target["cluster_id"]}"][data-vault="{target["vault_id"]}"]'
        )
        assert row.count() == 1
        for entry in MANIFEST["targets"]:
            if ids.same(entry["cluster_id"], target["cluster_id"]) and ids.same(
                entry["vault_id"], target["vault_id"]
            ):
                break
        failing_groups = {group_of(c) for c in entry["fail"]}
        for group in GROUPS:
            cell = row.locator(f'td.cell[data-group="{group}"]').first
            status = cell.get_attribute("data-status")
            colour = cell.evaluate("c => getComputedStyle(c).backgroundColor")
            if group in failing_groups:
                assert status == "fail" and colour == "rgb(198, 40, 40)", (entry["cluster"], group)
            else:
                assert status != "fail", (entry["cluster"], group)
        for check in entry["fail"]:
            finding = row.locator(f'.finding.fail[data-check="{check}"]')
            assert finding.count() == 1, (entry["cluster"], check)
            command = next(f["fix"]["command"] for f in target["findings"] if f["check"] == check)
            if command:
                assert finding.locator("pre").text_content() == command
                assert finding.locator("button.copy").is_visible()

    # status filter: without pass (and warn), only targets with a failing check remain
    page.uncheck('input.status-filter[value="pass"]')
    page.uncheck('input.status-filter[value="warn"]')
    failing = {ids.normalize(t["cluster_id"]) for t in MANIFEST["targets"] if t["fail"]}
    assert visible_clusters(page) == failing
    assert page.text_content("#shown") == str(len(failing))

    # subscription filter, combined with the status filter
    page.check('input.status-filter[value="pass"]')
    page.check('input.status-filter[value="warn"]')
    subscriptions = page.eval_on_selector_all("#subscription option", "os => os.map(o => o.value)")
    expected_subs = sorted({ids.subscription_of(t["cluster_id"]) for t in MANIFEST["targets"]})
    assert subscriptions == ["", *expected_subs]
    one = expected_subs[0]
    page.select_option("#subscription", one)
    in_sub = {
        ids.normalize(t["cluster_id"])
        for t in MANIFEST["targets"]
        if ids.subscription_of(t["cluster_id"]) == one
    }
    assert visible_clusters(page) == in_sub
    page.close()
