"""``make demo``: the Guard's whole story on the built-in local environment, in about a minute.

1. Starts Azurite, the ARM simulator with ``localdev/estates/demo.yaml``, a Teams Workflows webhook
   receiver and an SMTP server (STARTTLS), all on 127.0.0.1.
2. Runs a scheduled scan through the Function App's handlers (timer -> queue -> worker), with a
   progress bar, and prints a before/after table.
3. Breaks things the way people do, through real ARM calls as an administrator: deletes a role
   assignment, deletes a trusted-access binding, turns a storage firewall on.
4. Replays the Event Grid events the simulator recorded through the Event Grid function and shows
   the Guard restoring each one, with the time from event to fix.
5. Prints the Teams card and the email it delivered and the CloudEvents published to the
   simulator's Event Grid topic (one per transition), saves them under ``.demo/``.
6. Saves the HTML report the Function App serves (``GET /api/report``) as ``.demo/report.html``
   and a headless-Chromium screenshot of it as ``.demo/report.png``; stops everything.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from localdev.azure_sim.launcher import SimHandle, running_simulator
from localdev.azurite import Azurite
from localdev.host import DrainStats, LocalHost
from localdev.receivers.smtp import SmtpReceiver
from localdev.receivers.teams import TeamsReceiver

ROOT = Path(__file__).resolve().parent.parent
DEMO_ESTATE = ROOT / "localdev" / "estates" / "demo.yaml"
OUT = ROOT / ".demo"
RA_API = "api-version=2022-04-01"
OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
DRIFT_TOPIC = "guard-drift"


def failing_by_target(settings: Any) -> dict[str, tuple[str, str, list[str], list[str]]]:
    """A read-only check of every target: key -> (cluster, vault, failing check ids, warnings)."""
    from shared.arm import ArmClients
    from shared.discovery import discover
    from shared.gather.reader import ArmReader
    from shared.model import Status
    from shared.verification import verify

    clients = ArmClients(settings.arm)
    reader = ArmReader(clients, bulk=True)
    found = discover(reader, settings.subscriptions)
    out = {}
    for v in verify(list(found.targets), reader):
        failing = sorted(f.check for f in v.findings if f.status is Status.FAIL)
        warnings = sorted(f.check for f in v.findings if f.status is Status.WARN)
        out[v.target.key] = (
            v.target.cluster_id.rsplit("/", 1)[-1],
            v.target.vault_id.rsplit("/", 1)[-1],
            failing,
            warnings,
        )
    clients.close()
    return out


def before_after(console: Console, before: dict[str, Any], after: dict[str, Any]) -> None:
    table = Table(title="Before and after the scheduled scan (failing checks, then warnings)", expand=True)
    table.add_column("cluster")
    table.add_column("vault")
    table.add_column("before", style="red", overflow="fold")
    table.add_column("after", overflow="fold")
    for key in sorted(before, key=lambda k: before[k][0]):
        cluster, vault, failing, _ = before[key]
        _, _, still, warnings = after.get(key, ("", "", [], []))
        after_text = "\n".join([f"[red]{c}[/]" for c in still] + [f"[yellow]{c} (warn)[/]" for c in warnings])
        if not after_text:
            after_text = "[green]all pass[/]"
        elif not still:
            after_text = "[green]no failure[/]\n" + after_text
        table.add_row(cluster, vault, "\n".join(failing) or "[green]-[/]", after_text)
    console.print(table)
    fixed = sum(len(b[2]) - len(after.get(k, ("", "", [], []))[2]) for k, b in before.items())
    remaining = sum(len(a[2]) for a in after.values())
    console.print(
        f"[bold]{fixed}[/] failing checks fixed by the Guard; [bold]{remaining}[/] remain "
        "(advice only: they need a person, e.g. a cluster upgrade or a policy change)."
    )


def admin(sim: SimHandle, method: str, path: str, body: Any = None) -> Any:
    status, _, payload = sim.call(method, path, body, token=sim.admin_token)
    if status >= 400:
        raise RuntimeError(f"{method} {path.split('?')[0]} -> {status}: {payload}")
    return payload


def break_things(sim: SimHandle, estate: dict[str, Any], console: Console) -> list[str]:
    """Three everyday mistakes, as an administrator; returns what was done."""
    done = []
    clusters = {
        c["name"]: f"/subscriptions/{s['id']}/resourceGroups/{rg['name']}/providers/"
        f"Microsoft.ContainerService/managedClusters/{c['name']}"
        for s in estate["subscriptions"]
        for rg in s.get("resource_groups", [])
        for c in rg.get("clusters", [])
    }
    accounts = {
        a["name"]: f"/subscriptions/{s['id']}/resourceGroups/{rg['name']}/providers/"
        f"Microsoft.Storage/storageAccounts/{a['name']}"
        for s in estate["subscriptions"]
        for rg in s.get("resource_groups", [])
        for a in rg.get("storage_accounts", [])
    }
    search = clusters["aks-search-prod"]
    vault_principal = admin(
        sim, "GET", search + "/providers/Microsoft.DataProtection/backupInstances?api-version=2025-09-01"
    )
    vault_id = vault_principal["value"][0]["id"].split("/backupInstances/")[0]
    principal = admin(sim, "GET", vault_id + "?api-version=2025-09-01")["identity"]["principalId"]
    listed = admin(
        sim, "GET", f"{search}/providers/Microsoft.Authorization/roleAssignments?{RA_API}&$filter=atScope()"
    )
    for ra in listed["value"]:
        props = ra["properties"]
        if props["principalId"] == principal and props["scope"].lower() == search.lower():
            admin(sim, "DELETE", f"{ra['id']}?{RA_API}")
            done.append("deleted the vault's Reader role assignment on aks-search-prod")
    payments = clusters["aks-payments-prod"]
    bindings = admin(sim, "GET", f"{payments}/trustedAccessRoleBindings?api-version=2026-02-01")["value"]
    for binding in bindings:
        admin(sim, "DELETE", f"{binding['id']}?api-version=2026-02-01")
        done.append(f"deleted trusted-access binding {binding['name']} on aks-payments-prod")
    account = accounts["stbkpreportingprodweu"]
    admin(
        sim,
        "PATCH",
        f"{account}?api-version=2025-06-01",
        {
            "properties": {
                "networkAcls": {
                    "defaultAction": "Deny",
                    "bypass": "None",
                    "ipRules": [{"value": "127.0.0.1", "action": "Allow"}],
                    "virtualNetworkRules": [],
                    "resourceAccessRules": [],
                }
            }
        },
    )
    done.append("turned the firewall on for storage account stbkpreportingprodweu (office IP only)")
    for line in done:
        console.print(f"  [red]✗[/] {line}")
    return done


def save_report(console: Console) -> tuple[Path, Path | None]:
    """Calls the Function App's ``report`` function, saves the page and a Chromium screenshot."""
    import azure.functions as func

    from handlers.http import report

    response = report(func.HttpRequest(method="GET", url="/api/report", body=b""))
    page = OUT / "report.html"
    page.write_bytes(response.get_body())
    shot = OUT / "report.png"
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        console.print(f"saved {page.relative_to(ROOT)} (no chromium for a screenshot: `make chromium`)")
        return page, None
    done = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1400,1100",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or not shot.exists():
        console.print(f"saved {page.relative_to(ROOT)}; chromium could not take the screenshot")
        return page, None
    console.print(
        f"saved {page.relative_to(ROOT)} ({page.stat().st_size // 1024} KiB, one self-contained file) "
        f"and a screenshot {shot.relative_to(ROOT)}"
    )
    return page, shot


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def main() -> int:
    console = Console()
    started = time.monotonic()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    estate = yaml.safe_load(DEMO_ESTATE.read_text(encoding="utf-8"))
    with ExitStack() as stack:
        console.rule("[bold]AKS Backup Guard demo")
        console.print(
            "starting Azurite, the ARM simulator (demo estate), a Teams webhook receiver and an SMTP server"
        )
        azurite = stack.enter_context(Azurite.start(log_path=OUT / "azurite.log"))
        topic_key = secrets.token_urlsafe(24)  # the simulator's Event Grid topic for drift events
        sim_estate = {**estate, "eventgrid_topics": [{"name": DRIFT_TOPIC, "key": topic_key}]}
        sim = stack.enter_context(running_simulator(sim_estate, log_path=OUT / "simulator.log"))
        teams = TeamsReceiver()
        stack.callback(teams.stop)
        smtp = SmtpReceiver()
        stack.callback(smtp.stop)
        env = {
            **sim.env(),
            "AzureWebJobsStorage": azurite.connection_string,
            "GUARD_SUBSCRIPTIONS": ",".join(s["id"] for s in estate["subscriptions"]),
            "GUARD_PRINCIPAL_ID": estate["guard"]["principal_id"],
            "GUARD_MODE": "enforce",
            "GUARD_REMEDIATE_CLUSTER": "true",
            "GUARD_DEBOUNCE_SECONDS": "0",
            # the demo shows each step's alert at once instead of waiting out a 30 s group wait
            "GUARD_ALERT_GROUP_WAIT_SECONDS": "0",
            "GUARD_PRINCIPAL_RETRY_SECONDS": "20",
            "GUARD_TEAMS_WEBHOOK_URL": teams.url,
            "GUARD_EMAIL_TO": "platform-team@contoso.example",
            "GUARD_EMAIL_FROM": "aks-backup-guard@contoso.example",
            "GUARD_SMTP_HOST": "127.0.0.1",
            "GUARD_SMTP_PORT": str(smtp.port),
            "GUARD_SMTP_USER": smtp.user,
            "GUARD_SMTP_PASSWORD": smtp.password,
            "GUARD_SMTP_CA_BUNDLE": smtp.ca_path,
            "GUARD_EVENTGRID_TOPIC_ENDPOINT": sim.topic_endpoint(DRIFT_TOPIC),
            "GUARD_EVENTGRID_TOPIC_KEY": topic_key,
        }
        os.environ.update(env)  # the Functions host hands the app its settings through the environment

        import function_app
        from shared import orchestration
        from shared.settings import Settings

        settings = Settings.from_env()
        svc = orchestration.Services.build(settings)
        orchestration.use_services(svc)
        host = LocalHost(function_app.app, azurite.connection_string)
        console.print(
            f"ready in {time.monotonic() - started:.1f} s: {len(settings.subscriptions)} subscriptions, "
            f"mode {settings.mode}, cluster fixes allowed\n"
        )

        console.rule("1. scheduled scan through the Function App (timer -> queue -> worker)")
        before = failing_by_target(settings)
        host.run_timer("guard_scan")
        with Progress(
            TextColumn("reconciling targets"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("scan", total=len(before))

            def advance(queue: str, stats: DrainStats) -> None:
                if queue == "guard-targets":
                    progress.advance(task)

            stats = host.drain(timeout=180, on_message=advance)
        if stats.failed:
            console.print(f"[red]{stats.failed} worker invocations failed[/]")
        after = failing_by_target(settings)
        before_after(console, before, after)

        console.rule("2. people break things (real ARM calls as an administrator)")
        mark = len(sim.events())
        break_things(sim, estate, console)
        events = sim.events(since=mark)
        (OUT / "events.json").write_text(json.dumps(events, indent=2))
        console.print(
            f"Azure published {len(events)} Event Grid events; replaying them through the Event Grid function"
        )

        console.rule("3. the Guard reacts to the events")
        guard_mark = len(sim.events())
        delivered_at = datetime.now(UTC)
        host.deliver_events(events)
        host.drain(timeout=60)
        fixes = [
            e
            for e in sim.events(since=guard_mark)
            if e["data"]["claims"].get(OBJECT_ID, "").lower() == estate["guard"]["principal_id"].lower()
        ]
        table = Table(title="Restored by the Guard", expand=True)
        table.add_column("write")
        table.add_column("resource")
        table.add_column("event -> fix", justify="right")
        latencies = []
        for fix in fixes:
            seconds = (_parse_time(fix["eventTime"]) - delivered_at).total_seconds()
            latencies.append(seconds)
            table.add_row(
                fix["data"]["operationName"], fix["subject"].split("/providers/", 1)[-1], f"{seconds:.2f} s"
            )
        console.print(table)
        still = failing_by_target(settings)
        broken_again = {k: v for k, v in still.items() if len(v[2]) > len(after.get(k, ("", "", [], []))[2])}
        if broken_again:
            console.print(f"[red]not restored: {broken_again}[/]")

        console.rule("4. what people were told")
        orchestration.deliver_alerts(svc)
        for index, card in enumerate(teams.received, 1):
            (OUT / f"teams-card-{index}.json").write_text(json.dumps(card, indent=2))
        for index, message in enumerate(smtp.messages, 1):
            (OUT / f"email-{index}.eml").write_bytes(bytes(message))
        if teams.received:
            last = teams.received[-1]["attachments"][0]["content"]["body"]
            lines = [b.get("text", "") for b in last if b.get("type") == "TextBlock"][:8]
            console.print(f"[bold]Teams card[/] (latest of {len(teams.received)}):")
            for line in lines:
                console.print("  " + line, markup=False)  # card markdown, not rich markup
        if smtp.messages:
            message = smtp.messages[-1]
            plain = message.get_body(preferencelist=("plain",))
            text = plain.get_content() if plain is not None else ""
            console.print(f"[bold]Email[/] (latest of {len(smtp.messages)}): {message['Subject']}")
            console.print("\n".join("  " + line for line in text.splitlines()[:14]))
        published = [r["event"] for r in sim.published()]
        (OUT / "cloudevents.json").write_text(json.dumps(published, indent=2))
        by_type = Counter(str(e["type"]) for e in published)
        console.print(
            f"[bold]Event Grid[/] ({DRIFT_TOPIC}): {len(published)} CloudEvents, one per transition: "
            + ", ".join(f"{t.split('.', 1)[-1]} {n}" for t, n in sorted(by_type.items()))
        )
        if published:
            fixes_published = [e for e in published if e["type"] == "AksBackupGuard.DriftRemediated"]
            example = (fixes_published or published)[0]
            data = example["data"]
            console.print(
                f"  e.g. id={example['id']} type={example['type']}\n"
                f"  subject={example['subject']}\n"
                f"  data: check={data['check']} {data['statusBefore']} -> {data['statusAfter']}, "
                f"outcome={data['outcome']}, trigger={data['correlation']['triggerKind']} "
                f"{data['correlation']['triggerId']}"
            )
        console.print(f"\ncards, emails and CloudEvents saved under {OUT.relative_to(ROOT)}/")

        console.rule("5. the HTML report the Function App serves (GET /api/report)")
        report_html, screenshot = save_report(console)

        console.rule("done")
        elapsed = time.monotonic() - started
        summary = {
            "seconds": round(elapsed, 1),
            "targets": len(before),
            "failing_before": sum(len(v[2]) for v in before.values()),
            "failing_after_scan": sum(len(v[2]) for v in after.values()),
            "event_to_fix_seconds": [round(x, 3) for x in latencies],
            "teams_cards": len(teams.received),
            "emails": len(smtp.messages),
            "cloudevents": dict(sorted(by_type.items())),
            "not_restored": sorted(broken_again),
            "report": str(report_html.relative_to(ROOT)),
            "report_bytes": report_html.stat().st_size,
            "screenshot": str(screenshot.relative_to(ROOT)) if screenshot else None,
        }
        (OUT / "summary.json").write_text(json.dumps(summary, indent=2))
        console.print(
            f"{summary['targets']} targets; {summary['failing_before']} failing checks before, "
            f"{summary['failing_after_scan']} after the scan; event -> fix "
            f"{', '.join(f'{x:.2f} s' for x in latencies) or '-'}; "
            f"{summary['teams_cards']} Teams cards, {summary['emails']} emails, "
            f"{len(published)} CloudEvents; {elapsed:.0f} s in all"
        )
        orchestration.use_services(None)
        ok = not broken_again and len(fixes) >= 3 and bool(teams.received) and bool(smtp.messages)
        ok = ok and bool(published)
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
