"""``python -m localdev.azure_sim --estate FILE``: serve ARM over HTTPS on 127.0.0.1 until killed."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import shutil
import signal
import ssl
import sys
import tempfile
from pathlib import Path
from typing import Any

import trustme
import yaml
from aiohttp import web

from localdev.azure_sim import estate as estate_mod
from localdev.azure_sim.app import Sim
from localdev.azure_sim.context import SimConfig
from localdev.azure_sim.store import Store

log = logging.getLogger("localdev.azure_sim")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m localdev.azure_sim", description=__doc__)
    parser.add_argument("--estate", required=True, help="estate YAML file")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--ready-file", help="write the ready JSON line here (atomically)")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--throttle", action="store_true")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault-injection RNG")
    parser.add_argument(
        "--lro-retry-after-ms",
        type=int,
        default=100,
        help="Retry-After-Ms on long-running operation responses",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=0.0,
        help="how long a trusted-access binding stays Updating after a PUT (0: until the next read)",
    )
    parser.add_argument(
        "--register-seconds", type=float, default=1.0, help="how long a provider stays Registering"
    )
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def make_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    return ctx, ca_path


def write_ready(path: str, line: str) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(line + "\n", encoding="utf-8")
    tmp.replace(target)


async def serve(args: argparse.Namespace, raw: dict[str, Any], store: Store) -> None:
    store.register_seconds = args.register_seconds
    config = SimConfig(
        page_size=args.page_size,
        latency_ms=args.latency_ms,
        throttle=args.throttle,
        lro_retry_after_ms=args.lro_retry_after_ms,
        settle_seconds=args.settle_seconds,
    )
    sim = Sim(store, config, seed=args.seed)
    tls_dir = Path(tempfile.mkdtemp(prefix="azure-sim-"))
    ssl_ctx, ca_path = make_tls(tls_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(sim.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=ssl_ctx, backlog=1024)
    await site.start()
    port = int(runner.addresses[0][1])
    ready = {
        "endpoint": f"https://127.0.0.1:{port}",
        "ca_bundle": str(ca_path),
        "token": estate_mod.guard_token(raw),
    }
    others = raw.get("other_tokens") or []
    if others:
        ready["admin_token"] = str(others[0]["token"])
    line = json.dumps(ready)
    if args.ready_file:
        write_ready(args.ready_file, line)
    print(line, flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        shutil.rmtree(tls_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:  # a bad estate file is one line on stderr, never a traceback
        raw = estate_mod.read_estate(args.estate)
        store = estate_mod.load(raw)
    except (OSError, ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        print(
            f"python -m localdev.azure_sim: error: cannot load estate {args.estate}: {detail}",
            file=sys.stderr,
        )
        return 2
    asyncio.run(serve(args, raw, store))
    return 0


if __name__ == "__main__":
    sys.exit(main())
