"""The stack under test: a private Postgres and Redis, and the Procfile's processes on them.

Everything binds 127.0.0.1 on free ports under one temporary folder; nothing
touches `.local/` or the embedded services of `make run`. Web and worker
commands come from the Procfile (`bench.procfile`), with only the app, the
port and what a scenario names (pool, concurrency, web workers) changed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import redis

from bench import procfile
from config.embedded import database_url, ensure_database
from config.settings import PROJECT_ROOT
from tests.processes import PrivatePostgres, PrivateRedis, free_port

START_TIMEOUT_S = 60.0
"""How long a web or worker process may take to become ready."""

STOP_TIMEOUT_S = 15.0
"""How long a process may take to stop on SIGTERM before it is killed."""

INHERITED_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "BROKER_KEY_PREFIX",
    "HOST",
    "PORT",
    "GENERATION_PROVIDER",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "WORKER_CONCURRENCY",
    "LOCAL_DIR",
    "ARTIFACTS_DIR",
)
"""Variables of the caller's environment that must not leak into the stack under test."""

NO_QUOTAS = {
    f"VIP_{name}": "1000000000"
    for name in ("REQUESTS_PER_MINUTE", "JOBS_PER_DAY", "MAX_PENDING", "MAX_IN_FLIGHT")
}
"""The bench user's tier limits, raised out of reach: the checks still run, none refuses."""

BENCH_USER = "bench"
"""The vip user whose key every request carries."""


class StackError(RuntimeError):
    """A process of the stack did not start; the message carries its log's tail."""


@dataclass
class Service:
    """One child process (and its children: gunicorn workers, prefork pool)."""

    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def url(self) -> str:
        """Base URL of a web service."""
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> list[psutil.Process]:
        """The process and every descendant still alive."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        """Resident memory of the process tree, in MiB."""
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 2**20

    def cpu_s(self) -> float:
        """CPU seconds (user + system) used so far by the live process tree."""
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the process's log."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM the process group; SIGKILL it if it is still there after a grace period."""
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except ProcessLookupError:
                pass
        try:  # stragglers of the group (e.g. prefork children), never anything else
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Stack:
    """Private Postgres and Redis, the bench user's key, and the services started on them."""

    base: Path
    postgres: PrivatePostgres | None = None
    broker: PrivateRedis | None = None
    api_key: str = ""
    services: list[Service] = field(default_factory=list)

    def start(self) -> None:
        """Start Postgres and Redis, apply the migrations, create the bench user."""
        (self.base / "logs").mkdir(parents=True, exist_ok=True)
        (self.base / "pg").mkdir(exist_ok=True)
        (self.base / "redis").mkdir(exist_ok=True)
        self.postgres = PrivatePostgres(self.base / "pg")
        self.broker = PrivateRedis(self.base / "redis")
        self._flask("db", "upgrade")
        self.api_key = self._flask("users", "create", BENCH_USER, "--tier", "vip")[-1]

    def add_database(self, name: str) -> tuple[str, str]:
        """A second migrated database on the same server, with its own bench user.

        Returns (DATABASE_URL, API key): give the URL to `web(extra_env=...)`.
        """
        assert self.postgres
        ensure_database(self.postgres.port, name, recreate=True)
        url = database_url(self.postgres.port, name)
        self._flask("db", "upgrade", env={"DATABASE_URL": url})
        key = self._flask(
            "users", "create", BENCH_USER, "--tier", "vip", env={"DATABASE_URL": url}
        )[-1]
        return url, key

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of every process under test."""
        assert self.postgres and self.broker, "start() first"
        env = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS}
        env.update(
            DATABASE_URL=self.postgres.url,
            REDIS_URL=self.broker.url,
            HOST="127.0.0.1",
            BENCH_NOOP_KIND="1",
            LOCAL_DIR=str(self.base / "local"),
            ARTIFACTS_DIR=str(self.base / "artifacts"),
            PYTHONUNBUFFERED="1",
            WORKER_METRICS_PORT="0",  # no fixed port that another worker may hold
            **NO_QUOTAS,
        )
        env.update(extra or {})
        return env

    def web(
        self,
        name: str,
        *,
        app_spec: str | None = None,
        workers: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Service:
        """The Procfile's `web` on a free port, optionally another app or worker count."""
        port = free_port()
        env = self.env({"PORT": str(port), **(extra_env or {})})
        argv = procfile.command("web", env)
        if app_spec:
            argv[-1] = app_spec
        if workers is not None:
            argv = procfile.with_option(argv, "--workers", str(workers))
        service = self._spawn(name, argv, env, port=port)
        self._wait(service, lambda: _answers(f"{service.url}/healthz"))
        return service

    def worker(
        self,
        name: str,
        *,
        app: str | None = None,
        pool: str | None = None,
        concurrency: int | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> Service:
        """The Procfile's `worker`, optionally another Celery app, pool or concurrency."""
        env = self.env(extra_env)
        argv = procfile.command("worker", env)
        if app:
            argv = procfile.with_option(argv, "-A", app)
        if pool:
            argv = procfile.with_option(argv, "--pool", pool)
        if concurrency is not None:
            argv = procfile.with_option(argv, "--concurrency", str(concurrency))
        argv = procfile.with_option(argv, "--hostname", f"{name}@%h")
        service = self._spawn(name, argv, env)
        self._wait(service, lambda: " ready." in service.log_tail(20000))
        return service

    def connect(self, database: str = "chaos") -> Any:
        """A new autocommit psycopg2 connection to the database under test (or another)."""
        assert self.postgres
        conn = psycopg2.connect(
            host="127.0.0.1", port=self.postgres.port, user="postgres", dbname=database
        )
        conn.autocommit = True
        return conn

    def redis(self) -> redis.Redis:
        """A client of the broker's Redis."""
        assert self.broker
        return redis.Redis(port=self.broker.port, socket_timeout=30)

    def reset(self) -> None:
        """Forget every job and every queued message (queue bindings stay)."""
        with closing(self.connect()) as conn, conn.cursor() as cur:
            cur.execute("TRUNCATE jobs CASCADE")
        client = self.redis()
        doomed = [k for k in client.scan_iter(count=1000) if not k.startswith(b"_kombu.binding.")]
        for i in range(0, len(doomed), 500):
            client.delete(*doomed[i : i + 500])

    def stop(self, service: Service) -> None:
        """Stop one service."""
        service.stop()
        if service in self.services:
            self.services.remove(service)

    def close(self) -> None:
        """Stop every service, then Postgres and Redis."""
        for service in list(self.services):
            self.stop(service)
        if self.broker:
            self.broker.stop()
        if self.postgres:
            self.postgres.stop()

    def _flask(self, *args: str, env: dict[str, str] | None = None) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "webapp", *args],
            cwd=PROJECT_ROOT,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise StackError(f"flask {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done.stdout.strip().splitlines()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str], port: int | None = None
    ) -> Service:
        executable = Path(sys.executable).parent / argv[0]
        if executable.exists():
            argv = [str(executable), *argv[1:]]
        log = self.base / "logs" / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(name=name, argv=argv, process=process, log=log, port=port)
        self.services.append(service)
        return service

    def _wait(self, service: Service, ready: Any) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if service.process.poll() is not None or time.monotonic() > deadline:
                self.stop(service)
                raise StackError(f"{service.name} did not start:\n{service.log_tail()}")
            time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False
