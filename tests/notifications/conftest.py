"""A local HTTP server in a thread: webhook endpoints and the chat bot API point at it. It adds
itself to WEBHOOK_PRIVATE_ALLOWLIST, as an operator would allow an internal receiver: the safe
outgoing client refuses every other loopback address."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    #: what it answers: extra headers (a Location, say) and the body
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'
    #: seconds it takes before answering (a slow receiver)
    delay: float = 0.0

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


@contextmanager
def serving(settings) -> Iterator[LocalServer]:
    """A LocalServer on a free port, on the allowlist while it runs."""
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server = state["server"]
            if server.delay:
                time.sleep(server.delay)  # the receiver is slow; the test itself never waits on a clock
            server.requests.append(Received(self.path, dict(self.headers.items()), body))
            server.arrived.set()
            self.send_response(server.status)
            self.send_header("Content-Type", "application/json")
            for name, value in server.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(server.body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True  # a slow answer still being written does not hold the teardown
    state["server"] = LocalServer(url=f"http://127.0.0.1:{httpd.server_address[1]}")
    allowlist_add(settings, f"127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def local_server(settings):
    with serving(settings) as server:
        yield server
