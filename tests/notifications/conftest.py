"""A local HTTP server in a thread: webhook endpoints and the chat bot API point at it. It adds
itself to WEBHOOK_PRIVATE_ALLOWLIST, as an operator would allow an internal receiver: the safe
outgoing client refuses every other loopback address."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class LocalServer:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int = 1, timeout: float = 30) -> list[Received]:
        for _ in range(int(timeout * 10)):
            if len(self.requests) >= count:
                break
            self.arrived.wait(0.1)
            self.arrived.clear()
        return self.requests


def allowlist_add(settings, host_port: str) -> None:
    """Add `host_port` to WEBHOOK_PRIVATE_ALLOWLIST (pytest-django's `settings` restores it)."""
    current = [item for item in (settings.WEBHOOK_PRIVATE_ALLOWLIST or "").split(",") if item]
    settings.WEBHOOK_PRIVATE_ALLOWLIST = ",".join([*current, host_port])


@pytest.fixture
def local_server(settings):
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server = state["server"]
            server.requests.append(Received(self.path, dict(self.headers.items()), body))
            server.arrived.set()
            self.send_response(server.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"ok": true}')

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["server"] = LocalServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    allowlist_add(settings, f"127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state["server"]
    httpd.shutdown()
    httpd.server_close()
