"""Fake OpenAI HTTP API server for tests, benchmarks and manual runs.

It speaks enough of the OpenAI REST API (image generations and edits, chat
completions with SSE streaming, background responses, model listing) for the official ``openai``
client to talk to it over real HTTP, and lets tests make the "provider" slow,
failing, rate-limited or hanging::

    with FakeOpenAI() as fake:
        client = openai.OpenAI(api_key="test", base_url=fake.base_url)
        fake.rate_limit_next("images/generations", retry_after_s=1)
        ...
        assert fake.calls("images/generations")[0]["json"]["prompt"] == "a cat"

Images are solid-colour PNGs coloured by ``prompt_colour(prompt)`` (see
``tests.fake_openai_images``). Standalone: ``python -m tests.fake_openai
--port 18080 [--delay 2.0]`` prints its base_url and serves until SIGTERM/Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import urlsplit

from tests.fake_openai_images import (
    InvalidRequest,
    UploadedFile,
    images_response,
    parse_multipart,
    prompt_colour,
    render_png,
)
from tests.fake_openai_responses import BackgroundResponses

__all__ = ["FakeOpenAI", "prompt_colour", "render_png"]

Json = dict[str, Any]
ChatReply = str | Callable[[list[Json]], str] | None
Response = tuple[int, dict[str, str], bytes | list[bytes]]  # list[bytes]: SSE events
MODELS = [
    {"id": m, "object": "model", "created": 0, "owned_by": "fake-openai"}
    for m in ("gpt-image-1", "dall-e-3", "dall-e-2", "gpt-4o-mini")
]
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
ERROR_TYPES = {429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return status, {"Content-Type": "application/json", **(headers or {})}, body


def _error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    type_: str | None = None,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    type_ = type_ or ERROR_TYPES.get(status, "invalid_request_error")
    err = {"message": message, "type": type_, "param": param, "code": code}
    return _json(status, {"error": err}, headers)


def _matches(path: str, suffix: str) -> bool:
    suffix = suffix.strip("/")
    return not suffix or ("/" + path.strip("/")).endswith("/" + suffix)


def _last_user_text(messages: list[Any]) -> str:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
                texts = [p.get("text", "") for p in content if isinstance(p, dict)]
                return " ".join(str(t) for t in texts if t)
            return str(content or "")
    return ""


class _Stopped(Exception):
    """Raised in a handler whose delay or hang was interrupted by stop()."""


@dataclass
class _Fault:
    suffix: str
    remaining: int
    response: Response | None  # None: just hang, then answer normally
    hang_s: float = 0.0


class FakeOpenAI:
    """Local fake of the OpenAI HTTP API; see the module docstring.

    Each recorded request is a dict: method, path, json (parsed body or None),
    form (multipart text fields), files ([(field, filename, size)]), headers
    (lower-cased names) and t (``time.monotonic()`` on arrival). Endpoints are
    matched by path suffix, e.g. "images/generations" or "chat/completions".
    ``delay_s``, ``stream_delay_s``, ``chat_reply`` and ``required_api_key`` are plain attributes
    (single reads/writes are atomic); all other state is guarded by a lock.
    """

    def __init__(self, port: int = 0, delay_s: float = 0.0) -> None:
        self._port = port
        self._default_delay = delay_s
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()  # set to cut short every pending sleep
        self.reset()

    def start(self) -> Self:
        """Bind 127.0.0.1 and serve from a daemon thread (a restart reuses the port)."""
        with self._lock:
            if self._server is not None:
                raise RuntimeError("FakeOpenAI is already running")
            self._server = _Server(("127.0.0.1", self._port), self)
            self._port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-openai-{self._port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and wake any hanging handlers."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._wake.set()
            self._wake = threading.Event()
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``; only valid while running."""
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not running")
        return f"http://127.0.0.1:{self._port}/v1"

    @property
    def requests(self) -> list[Json]:
        """Snapshot of every recorded request, oldest first."""
        with self._lock:
            return list(self._requests)

    def calls(self, path_suffix: str = "") -> list[Json]:
        """Recorded requests whose path ends with ``path_suffix``."""
        return [r for r in self.requests if _matches(r["path"], path_suffix)]

    def reset(self) -> None:
        """Forget requests and restore every behaviour control to its default."""
        with self._lock:
            self._requests: list[Json] = []
            self._delays: dict[str, float] = {}
            self._faults: list[_Fault] = []
            self._wake.set()  # cut short hangs left over from a previous test
            self._wake = threading.Event()
        self.delay_s: float = self._default_delay
        self.stream_delay_s: float = 0.0  # pause between streamed chunks (a slow model)
        self.chat_reply: ChatReply = None
        self.required_api_key: str | None = None
        self.background = BackgroundResponses()

    def set_delay(self, endpoint: str, seconds: float) -> None:
        """Make responses of ``endpoint`` wait ``seconds`` (instead of ``delay_s``)."""
        with self._lock:
            self._delays[endpoint] = seconds

    def fail_next(
        self,
        endpoint: str,
        status: int = 500,
        times: int = 1,
        code: str | None = None,
        message: str | None = None,
        retry_after_s: float | None = None,
        error_type: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with an API error."""
        headers = {}
        if retry_after_s is not None:
            headers["Retry-After"] = f"{retry_after_s:g}"
            headers["retry-after-ms"] = str(round(retry_after_s * 1000))
        message = message or f"Injected fake error (HTTP {status})."
        response = _error(status, message, code=code, type_=error_type, headers=headers)
        with self._lock:
            self._faults.append(_Fault(endpoint, times, response))

    def rate_limit_next(self, endpoint: str, retry_after_s: float = 1, times: int = 1) -> None:
        """Answer the next ``times`` requests with 429 and a Retry-After header."""
        msg = "Rate limit reached (fake). Please try again later."
        self.fail_next(endpoint, 429, times, "rate_limit_exceeded", msg, retry_after_s)

    def reject_content_next(self, endpoint: str, times: int = 1) -> None:
        """Answer the next ``times`` requests with 400 content_policy_violation."""
        msg = "Your request was rejected as a result of our (fake) safety system."
        self.fail_next(endpoint, 400, times, "content_policy_violation", msg)

    def hang_next(self, endpoint: str, seconds: float, times: int = 1) -> None:
        """Stall the next ``times`` requests for ``seconds``, then answer normally."""
        with self._lock:
            self._faults.append(_Fault(endpoint, times, None, seconds))

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._wake.wait(seconds) and self._server is None:
            raise _Stopped  # stop() cut the wait short: drop the request unanswered

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if _matches(path, fault.suffix):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        path = "/" + urlsplit(target).path.strip("/")
        data, form, files = self._record(method, path, headers, body)
        key = self.required_api_key
        if key is not None and headers.get("authorization") != f"Bearer {key}":
            msg = "Incorrect API key provided (fake)."
            return _error(401, msg, code="invalid_api_key")
        fault = self._take_fault(path)
        if fault is not None:
            self._sleep(fault.hang_s)
            if fault.response is not None:
                return fault.response
        try:
            return self._route(method, path, data, form, files)
        except InvalidRequest as exc:
            return _error(400, exc.message, param=exc.param)

    def _record(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[Any, dict[str, str], list[UploadedFile]]:
        """Parse and log the request, then wait out any configured delay."""
        ctype = headers.get("content-type", "")
        data: Any = None
        form: dict[str, str] = {}
        files: list[UploadedFile] = []
        if ctype.startswith("multipart/form-data"):
            form, files = parse_multipart(ctype, body)
        elif body:
            with contextlib.suppress(ValueError):
                data = json.loads(body)
        sizes = [(field, name, len(content)) for field, name, content in files]
        record = {"method": method, "path": path, "json": data, "form": form}
        record |= {"files": sizes, "headers": headers, "t": time.monotonic()}
        with self._lock:
            self._requests.append(record)
            delays = [s for suffix, s in self._delays.items() if _matches(path, suffix)]
        self._sleep(delays[-1] if delays else self.delay_s)
        return data, form, files

    def _route(
        self, method: str, path: str, data: Any, form: dict[str, str], files: list[UploadedFile]
    ) -> Response:
        if method == "GET" and path == "/v1/models":
            return _json(200, {"object": "list", "data": MODELS})
        if method == "POST" and path.startswith("/v1/images/"):
            params = data if isinstance(data, dict) else form
            edit = path == "/v1/images/edits"
            if edit or path == "/v1/images/generations":
                return _json(200, images_response(params, files, edit))
        if method == "POST" and path == "/v1/chat/completions":
            return self._chat(data)
        if method == "POST" and path == "/v1/responses":
            return _json(200, self.background.create(data))
        if method == "GET" and path.startswith("/v1/responses/"):
            found = self.background.retrieve(path.rsplit("/", 1)[1])
            if found is not None:
                return _json(200, found)
            return _error(404, "No response found with that id.", code="not_found")
        return _error(404, f"Invalid URL ({method} {path})")

    def _chat(self, body: Any) -> Response:
        messages = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(messages, list) or not messages:
            raise InvalidRequest("Missing required parameter: 'messages'.", "messages")
        reply = self.chat_reply
        if reply is None:
            reply = "FAKE: " + _last_user_text(messages)[:200]
        text = reply(messages) if callable(reply) else reply
        base: Json = {"id": "chatcmpl-fake" + uuid.uuid4().hex[:20]}
        base |= {"created": int(time.time()), "model": body.get("model") or "gpt-4o"}
        n = len(text.split())
        usage = {"prompt_tokens": 1, "completion_tokens": n, "total_tokens": n + 1}
        if not body.get("stream"):
            msg = {"role": "assistant", "content": text, "refusal": None}
            choice = {"index": 0, "message": msg, "finish_reason": "stop"}
            result = base | {"object": "chat.completion", "choices": [choice]}
            return _json(200, result | {"usage": usage})

        def chunk(delta: Json, finish_reason: str | None = None) -> Json:
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
            return base | {"object": "chat.completion.chunk", "choices": [choice]}

        chunks = [chunk({"role": "assistant", "content": ""})]
        chunks += [chunk({"content": p}) for p in re.findall(r"\s*\S+|\s+", text)]
        chunks.append(chunk({}, "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            chunks.append(chunk({}) | {"choices": [], "usage": usage})
        events = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks]
        return 200, SSE_HEADERS, [*events, b"data: [DONE]\n\n"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging to stderr."""

    def _read_body(self) -> bytes:
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # optional trailers, then a blank line
            continue
        return b"".join(chunks)

    def _serve(self) -> None:
        body = self._read_body()  # always drain the body so keep-alive stays in sync
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            status, extra, payload = self.server.fake._handle(
                self.command, self.path, headers, body
            )
        except _Stopped:
            self.close_connection = True
            return
        except Exception as exc:  # noqa: BLE001 - report bugs in the fake as a 500
            status, extra, payload = _error(500, f"Fake server error: {exc!r}")
        try:
            self.send_response(status)
            self.send_header("x-request-id", "req_fake_" + uuid.uuid4().hex[:16])
            for name, value in extra.items():
                self.send_header(name, value)
            if isinstance(payload, bytes):
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_header("Connection", "close")  # the stream ends when we close
            self.end_headers()
            for event in payload:
                self.wfile.write(event)
                self.wfile.flush()
                self.server.fake._sleep(self.server.fake.stream_delay_s)
        except (BrokenPipeError, ConnectionResetError, _Stopped):  # client gave up, or stop()
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], fake: FakeOpenAI) -> None:
        super().__init__(address, _Handler)
        self.fake = fake
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about sockets dropped by clients or by stop()."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)

    def close_connections(self) -> None:
        """Shut down keep-alive connections so a stopped fake really stops answering."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM or Ctrl-C, after printing the base_url on one line."""
    parser = argparse.ArgumentParser(description="Fake OpenAI HTTP API server.")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per reply")
    parser.add_argument("--api-key", default=None, help="require this Bearer key")
    args = parser.parse_args(argv)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # also when started with SIGINT ignored
        signal.signal(sig, lambda *_: done.set())
    with FakeOpenAI(port=args.port, delay_s=args.delay) as fake:
        fake.required_api_key = args.api_key
        print(fake.base_url, flush=True)
        while not done.wait(0.5):
            continue


if __name__ == "__main__":
    main()
