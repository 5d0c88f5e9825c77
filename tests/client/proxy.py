"""A TCP relay in front of the live server that tests can tell to break connections.

It stands in for the network between a client and the service: `cut_all()` drops every
open connection (a stream dies mid-event), `lose_next_responses(n)` lets the next n
requests reach the service but drops the connection as the answer starts (the service
acted; the client never hears of it).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Self

CHUNK_BYTES = 65536


class CuttingProxy:
    """Relays 127.0.0.1:<port> to the upstream address, breaking connections on demand."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._lock = threading.Lock()
        self._open: list[tuple[socket.socket, socket.socket]] = []
        self._to_lose = 0
        self._running = True
        self.accepted = 0
        self.lost = 0
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self._listener.close()
        self.cut_all()

    def cut_all(self) -> int:
        """Drop every open connection at once; returns how many were open."""
        with self._lock:
            pairs, self._open = self._open, []
        for pair in pairs:
            _close(*pair)
        return len(pairs)

    def lose_next_responses(self, count: int = 1) -> None:
        """The next `count` connections: the request goes through, its answer is dropped."""
        with self._lock:
            self._to_lose += count

    def _accept_loop(self) -> None:
        while self._running:
            try:
                downstream, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.upstream, timeout=5)
            upstream.settimeout(None)
            with self._lock:
                self.accepted += 1
                lose = self._to_lose > 0
                self._to_lose -= int(lose)
                self._open.append((downstream, upstream))
            threading.Thread(
                target=self._pump, args=(downstream, upstream, False), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(upstream, downstream, lose), daemon=True
            ).start()

    def _pump(self, source: socket.socket, target: socket.socket, lose: bool) -> None:
        try:
            while chunk := source.recv(CHUNK_BYTES):
                if lose:
                    with self._lock:
                        self.lost += 1
                    break
                target.sendall(chunk)
        except OSError:
            pass
        _close(source, target)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
