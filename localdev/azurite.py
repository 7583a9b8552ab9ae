"""Start and stop Azurite (Microsoft's Storage emulator, installed from npm) on free ports.

Azurite runs with in-memory persistence, so every start is empty, unless ``location`` names a
directory (``--location``): then its data survives :meth:`Azurite.restart`, which stops it and
starts it again on the same ports (for storage-outage tests). The process is started in its own
process group and :meth:`Azurite.stop` kills the whole group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "devstoreaccount1"
# The well-known Azurite development key (public, documented by Microsoft; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Azurite:
    blob_port: int
    queue_port: int
    table_port: int
    process: subprocess.Popen[bytes] | None = None
    location: Path | None = None
    log_path: Path | None = None

    @property
    def connection_string(self) -> str:
        host = "http://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{ACCOUNT};"
        )

    @classmethod
    def start(
        cls, *, timeout: float = 30.0, log_path: Path | None = None, location: Path | None = None
    ) -> Azurite:
        """Start Azurite on free 127.0.0.1 ports; raises RuntimeError if it does not come up.

        ``location``: persist to this directory instead of memory (created if missing).
        """
        last_error = ""
        for _ in range(3):
            node = cls(free_port(), free_port(), free_port(), location=location, log_path=log_path)
            if node._spawn(timeout):
                return node
            last_error = f"exit code {node.process.poll() if node.process else None}"
            node.stop()
        raise RuntimeError(f"Azurite did not start ({last_error})")

    def restart(self, *, timeout: float = 30.0) -> None:
        """Stop Azurite and start it again on the same ports (and ``location``, if any)."""
        self.stop()
        deadline = time.monotonic() + timeout
        while not self._spawn(timeout):
            self.stop()
            if time.monotonic() > deadline:
                raise RuntimeError("Azurite did not restart on its ports")
            time.sleep(0.5)

    def _spawn(self, timeout: float) -> bool:
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise RuntimeError("Azurite is not installed: run `make setup` (npm ci) first")
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
            persistence = ["--location", str(self.location)]
        else:
            persistence = ["--inMemoryPersistence"]
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(binary),
                *persistence,
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.blob_port),
                "--queueHost",
                "127.0.0.1",
                "--queuePort",
                str(self.queue_port),
                "--tableHost",
                "127.0.0.1",
                "--tablePort",
                str(self.table_port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=ROOT,
        )
        return self._wait_listening(timeout)

    def _wait_listening(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        pending = {self.blob_port, self.queue_port, self.table_port}
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            for port in list(pending):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                    pending.discard(port)
            if not pending:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Kill Azurite's process group; safe to call twice."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
