"""A local endpoint speaking the Azure Communication Services Email REST API, over HTTPS.

Implements what ``azure-communication-email`` 1.1.0 uses:

- ``POST /emails:send?api-version=...``: checks the HMAC-SHA256 authentication the SDK computes
  from the connection string's access key (``x-ms-date``, ``x-ms-content-sha256`` and
  ``Authorization: HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=...``)
  or accepts a ``Bearer`` token; validates the message shape; answers **202** with
  ``Operation-Location``, ``Retry-After`` and ``{"id", "status": "Running"}``;
- ``GET /emails/operations/{id}?api-version=...``: ``Running`` for the first ``polls_until_done``
  polls, then ``Succeeded`` (or ``Failed`` when ``fail_operations``).

``connection_string`` gives ``endpoint=https://127.0.0.1:PORT/;accesskey=BASE64``; ``ca_path`` is
the CA bundle that makes the certificate trusted (``GUARD_ACS_CA_BUNDLE``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import ssl
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme


class AcsEmailReceiver:
    def __init__(
        self, *, ca: trustme.CA | None = None, polls_until_done: int = 1, fail_operations: bool = False
    ) -> None:
        self.access_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.polls_until_done = polls_until_done
        self.fail_operations = fail_operations
        self.sent: list[dict[str, Any]] = []
        self.operations: dict[str, int] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, auth scheme)
        self.auth_failures = 0
        self._lock = threading.Lock()
        self.ca = ca or trustme.CA()
        self._dir = tempfile.TemporaryDirectory(prefix="guard-acs-")
        self.ca_path = str(Path(self._dir.name) / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_path)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}/"

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.endpoint};accesskey={self.access_key}"

    def _verify_hmac(self, method: str, path: str, headers: Any, body: bytes) -> bool:
        auth = headers.get("Authorization") or ""
        date, content_hash = headers.get("x-ms-date"), headers.get("x-ms-content-sha256")
        if not (auth.startswith("HMAC-SHA256 ") and date and content_hash):
            return False
        if base64.b64encode(hashlib.sha256(body).digest()).decode() != content_hash:
            return False
        host = headers.get("Host") or f"127.0.0.1:{self.port}"
        string_to_sign = f"{method}\n{path}\n{date};{host};{content_hash}"
        digest = hmac.new(base64.b64decode(self.access_key), string_to_sign.encode(), hashlib.sha256).digest()
        expected = base64.b64encode(digest).decode()
        return auth.endswith("&Signature=" + expected)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any], **headers: str) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            def _authorized(self, body: bytes) -> bool:
                auth = self.headers.get("Authorization") or ""
                scheme = auth.split(" ", 1)[0]
                with receiver._lock:
                    receiver.requests.append((self.command, urlsplit(self.path).path, scheme))
                ok = auth.startswith("Bearer ") or receiver._verify_hmac(
                    self.command, self.path, self.headers, body
                )
                if not ok:
                    with receiver._lock:
                        receiver.auth_failures += 1
                    self._answer(
                        401, {"error": {"code": "Denied", "message": "Denied by the resource provider."}}
                    )
                return ok

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self._authorized(body):
                    return
                if urlsplit(self.path).path != "/emails:send":
                    self._answer(404, {"error": {"code": "NotFound", "message": "no such route"}})
                    return
                try:
                    message = json.loads(body)
                    assert message["senderAddress"] and message["recipients"]["to"][0]["address"]
                    assert message["content"]["subject"]
                except (ValueError, KeyError, IndexError, TypeError, AssertionError):
                    self._answer(400, {"error": {"code": "BadRequest", "message": "invalid email message"}})
                    return
                op = self.headers.get("Operation-Id") or str(uuid.uuid4())
                with receiver._lock:
                    receiver.sent.append(message)
                    receiver.operations[op] = 0
                api = self.path.split("api-version=", 1)[-1].split("&", 1)[0]
                location = f"{receiver.endpoint}emails/operations/{op}?api-version={api}"
                self._answer(
                    202, {"id": op, "status": "Running"}, Operation_Location=location, Retry_After="1"
                )

            def do_GET(self) -> None:
                if not self._authorized(b""):
                    return
                path = urlsplit(self.path).path
                op = path.rsplit("/", 1)[-1]
                with receiver._lock:
                    if not path.startswith("/emails/operations/") or op not in receiver.operations:
                        found = False
                    else:
                        found = True
                        receiver.operations[op] += 1
                        polls = receiver.operations[op]
                if not found:
                    self._answer(404, {"error": {"code": "NotFound", "message": "unknown operation"}})
                    return
                if polls < receiver.polls_until_done:
                    self._answer(200, {"id": op, "status": "Running"}, Retry_After="1")
                elif receiver.fail_operations:
                    self._answer(
                        200, {"id": op, "status": "Failed", "error": {"code": "Rejected", "message": "no"}}
                    )
                else:
                    self._answer(200, {"id": op, "status": "Succeeded"})

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()

    def __enter__(self) -> AcsEmailReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
