"""A webhook receiver for tests: a threaded HTTP server on 127.0.0.1 that records what it gets.

It answers each request with the next status of a script (then 200), and keeps
every request's headers and body so tests can verify signatures with
`standardwebhooks`, as a real receiver would.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        """The JSON body."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


class WebhookReceiver:
    """Records webhook requests; answers with scripted statuses (then 200)."""

    def __init__(self, *statuses: int, delay_s: float = 0.0) -> None:
        self.requests: list[Received] = []
        self.delay_s = delay_s
        self._script = list(statuses)
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    status = receiver._script.pop(0) if receiver._script else 200
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    receiver._lock.notify_all()
                time.sleep(receiver.delay_s)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where to send webhooks."""
        return f"http://127.0.0.1:{self._server.server_port}/hooks"

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_port)

    def wait_for(self, count: int, timeout_s: float = 20) -> list[Received]:
        """Wait until at least `count` requests came; returns them all."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"receiver got {len(self.requests)} of {count} requests in {timeout_s} s: "
                        f"{[r.event['type'] for r in self.requests]}"
                    )
                self._lock.wait(left)
            return list(self.requests)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
