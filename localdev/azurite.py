"""Start and stop Azurite (Microsoft's Storage emulator, installed from npm) on free ports.

Azurite runs with in-memory persistence, so every start is empty. The process is started in its
own process group and :meth:`Azurite.stop` kills the whole group.
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
    def start(cls, *, timeout: float = 30.0, log_path: Path | None = None) -> Azurite:
        """Start Azurite on free 127.0.0.1 ports; raises RuntimeError if it does not come up."""
        binary = ROOT / "node_modules" / ".bin" / "azurite"
        if not binary.exists():
            raise RuntimeError("Azurite is not installed: run `make setup` (npm ci) first")
        last_error = ""
        for _ in range(3):
            node = cls(free_port(), free_port(), free_port())
            out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
            node.process = subprocess.Popen(
                [
                    str(binary),
                    "--inMemoryPersistence",
                    "--skipApiVersionCheck",
                    "--loose",
                    "--disableTelemetry",
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    str(node.blob_port),
                    "--queueHost",
                    "127.0.0.1",
                    "--queuePort",
                    str(node.queue_port),
                    "--tableHost",
                    "127.0.0.1",
                    "--tablePort",
                    str(node.table_port),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=ROOT,
            )
            if node._wait_listening(timeout):
                return node
            last_error = f"exit code {node.process.poll()}"
            node.stop()
        raise RuntimeError(f"Azurite did not start ({last_error})")

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
