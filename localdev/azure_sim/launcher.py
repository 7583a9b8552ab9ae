"""Start the simulator as a subprocess for tests, benchmarks and the demo (standard library only).

with running_simulator({"subscriptions": [...]}, page_size=2) as sim:
    os.environ.update(sim.env())
    sim.requests()["by_template"]
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SimHandle:
    endpoint: str
    ca_bundle: str
    token: str
    admin_token: str | None = None
    pid: int = 0
    _ssl: ssl.SSLContext | None = field(default=None, repr=False)

    def env(self) -> dict[str, str]:
        return {
            "GUARD_ARM_ENDPOINT": self.endpoint,
            "GUARD_ARM_CA_BUNDLE": self.ca_bundle,
            "GUARD_ARM_TOKEN": self.token,
        }

    def ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca_bundle)
        return self._ssl

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """A raw HTTPS request to the simulator: (status, headers, parsed JSON body or text)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=30) as resp:
                status, raw, hdrs = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as err:
            status, raw, hdrs = err.code, err.read(), dict(err.headers)
        text = raw.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return status, hdrs, parsed

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        status, _, parsed = self.call(method, path, body)
        if status >= 400 and status != 404:
            raise RuntimeError(f"simulator admin call {method} {path} failed: {status} {parsed}")
        return parsed if status < 400 else None

    def requests(self, log: bool = True) -> dict[str, Any]:
        return dict(self._admin("GET", "/_sim/requests" + ("" if log else "?log=0")))

    def reset_counters(self) -> None:
        self._admin("POST", "/_sim/reset-counters")

    def set_faults(self, rules: list[dict[str, Any]]) -> None:
        self._admin("POST", "/_sim/faults", {"rules": rules})

    def clear_faults(self) -> None:
        self._admin("DELETE", "/_sim/faults")

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        return list(self._admin("GET", f"/_sim/events?since={since}"))

    def reset_events(self) -> None:
        self._admin("POST", "/_sim/reset-events")

    def published(self, since: int = 0) -> list[dict[str, Any]]:
        """What the Event Grid topics accepted, oldest first: ``{"topic", "auth", "principal",
        "received_at", "event"}`` with ``event`` the CloudEvent as received."""
        return list(self._admin("GET", f"/_sim/published?since={since}"))

    def reset_published(self) -> None:
        self._admin("POST", "/_sim/reset-published")

    def topic_endpoint(self, topic: str) -> str:
        """The topic endpoint to give ``EventGridPublisherClient`` (``GUARD_EVENTGRID_TOPIC_ENDPOINT``)."""
        return f"{self.endpoint}/eventgrid/topics/{topic}/api/events"

    def state(self, resource_id: str) -> dict[str, Any] | None:
        result = self._admin("GET", "/_sim/state?id=" + urllib.parse.quote(resource_id, safe=""))
        return dict(result) if result is not None else None

    def replicate(self, principal_id: str) -> None:
        if self._admin("POST", f"/_sim/principals/{principal_id}/replicate") is None:
            raise KeyError(principal_id)


def _write_estate(estate: str | Path | dict[str, Any], directory: Path) -> Path:
    if isinstance(estate, dict):
        path = directory / "estate.json"  # JSON is valid YAML and loads much faster
        path.write_text(json.dumps(estate), encoding="utf-8")
        return path
    return Path(estate)


@contextlib.contextmanager
def running_simulator(
    estate: str | Path | dict[str, Any],
    *,
    latency_ms: int = 0,
    page_size: int = 100,
    throttle: bool = False,
    log_path: str | Path | None = None,
    seed: int = 0,
    extra_args: list[str] | None = None,
    timeout: float = 30.0,
) -> Iterator[SimHandle]:
    """Start ``python -m localdev.azure_sim`` and yield its handle; the process group is always killed."""
    with tempfile.TemporaryDirectory(prefix="azure-sim-run-") as tmp:
        directory = Path(tmp)
        estate_path = _write_estate(estate, directory)
        ready = directory / "ready.json"
        cmd = [
            sys.executable,
            "-m",
            "localdev.azure_sim",
            "--estate",
            str(estate_path),
            "--ready-file",
            str(ready),
            "--latency-ms",
            str(latency_ms),
            "--page-size",
            str(page_size),
            "--seed",
            str(seed),
        ]
        if throttle:
            cmd.append("--throttle")
        cmd.extend(extra_args or [])
        stderr_path = Path(log_path) if log_path else directory / "stderr.log"
        log_file = open(stderr_path, "ab")  # noqa: SIM115 - closed in the finally below
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        proc = subprocess.Popen(
            cmd, cwd=str(_ROOT), stdout=subprocess.DEVNULL, stderr=log_file, env=env, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if proc.poll() is not None:
                    tail = stderr_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                    raise RuntimeError(
                        f"simulator exited with {proc.returncode} before it was ready:\n{tail}"
                    )
                if time.monotonic() > deadline:
                    raise TimeoutError("simulator did not become ready in time")
                time.sleep(0.05)
            info = json.loads(ready.read_text(encoding="utf-8"))
            yield SimHandle(
                endpoint=info["endpoint"],
                ca_bundle=info["ca_bundle"],
                token=info["token"],
                admin_token=info.get("admin_token"),
                pid=proc.pid,
            )
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            log_file.close()
