"""What a scenario gets: the stack, shared web services, the API key, and its outcome record."""

from __future__ import annotations

import json
import secrets
import signal
import time
import urllib.request
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import psutil

from bench.cpu import CpuMeter, ProcessSource, tree
from bench.stack import Service, Stack
from bench.stats import Check

FINAL_STATUSES = ("completed", "failed", "canceled")
"""Job statuses that end a job (as in `tasks.states.FINAL`)."""


class ScenarioTimeout(Exception):
    """A scenario ran past its hard time cap."""


@dataclass
class Outcome:
    """What one scenario reports: its checks, the figures behind them, and notes."""

    name: str
    status: str = "measured"
    checks: list[Check] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The outcome for latest.json."""
        return {
            "status": self.status,
            "elapsed_s": round(self.elapsed_s, 1),
            "checks": [check.as_json() for check in self.checks],
            "notes": self.notes,
            "details": self.details,
        }


@dataclass
class Bench:
    """Shared state of one benchmark run."""

    stack: Stack
    profile: bool = False
    memory_cap_s: float | None = None
    profiles: dict[str, Any] = field(default_factory=dict)
    servers: dict[str, str] = field(default_factory=dict)
    _tenant_keys: list[str] = field(default_factory=list)
    _flask: Any = None
    _app_web: Service | None = None
    _bare_web: Service | None = None

    @property
    def auth(self) -> dict[str, str]:
        """Headers of an authenticated JSON request."""
        return self.auth_for(self.stack.api_key)

    def tenant_keys(self, count: int) -> list[str]:
        """API keys of `count` vip users (the bench user first); the others made here by SQL.

        The keys are stored the app's way (`webapp.auth.hash_key`), one INSERT each table.
        """
        from webapp.auth import KEY_PREFIX, hash_key

        while len(self._tenant_keys) < count:
            n = len(self._tenant_keys)
            if n == 0:
                self._tenant_keys.append(self.stack.api_key)
                continue
            raw = f"{KEY_PREFIX}bench-tenant-{n}-{secrets.token_urlsafe(16)}"
            self.query(
                "WITH u AS (INSERT INTO users (name, tier) VALUES (%s, 'vip') RETURNING id)"
                " INSERT INTO api_keys (user_id, key_hash, prefix) SELECT id, %s, %s FROM u",
                (f"bench-tenant-{n}", hash_key(raw), raw[:10]),
            )
            self._tenant_keys.append(raw)
        return self._tenant_keys[:count]

    def auth_for(self, key: str) -> dict[str, str]:
        """Headers of a JSON request with this API key."""
        return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def app_web(self) -> Service:
        """The web app with the Procfile's flags (started on first use, then reused)."""
        if self._app_web is None or self._app_web.process.poll() is not None:
            self._app_web = self.stack.web("web")
        return self._app_web

    def bare_web(self) -> Service:
        """The bare baseline app with the same gunicorn flags."""
        if self._bare_web is None or self._bare_web.process.poll() is not None:
            self._bare_web = self.stack.web("bare-web", app_spec="bench.bare_web:create_app()")
        return self._bare_web

    def cpu_meter(self, **services: Service) -> CpuMeter:
        """A CpuMeter over the given services, Postgres, Redis and this process (the client)."""
        postmaster = int(
            (self.stack.base / "pg" / "data" / "postmaster.pid").read_text().split()[0]
        )
        redis_pid = int(self.stack.redis().info("server")["process_id"])
        groups: dict[str, ProcessSource] = {
            name: service.processes for name, service in services.items()
        }
        groups.update(
            postgres=lambda: tree(postmaster),
            redis=lambda: tree(redis_pid),
            client=lambda: [psutil.Process()],
        )
        return CpuMeter(groups)

    def send_first_stages(self, job_ids: list[str]) -> float:
        """Publish each job's first noop stage as `tasks.enqueue` does; returns seconds taken.

        Uses the app's own Flask and Celery apps (built here once), without the
        `enqueued_at` write.
        """
        from tasks.enqueue import LANE_PRIORITY, queue_name, stage_task_name
        from tasks.pipelines.noop import NOOP_STAGES
        from webapp import create_app

        if self._flask is None:
            self._flask = create_app()
        celery = self._flask.extensions["celery"]
        first = NOOP_STAGES[0].name
        started = time.monotonic()
        with self._flask.app_context(), celery.producer_or_acquire() as producer:
            for job_id in job_ids:
                celery.send_task(
                    stage_task_name(first),
                    args=(job_id, 0),
                    queue=queue_name(first),
                    priority=LANE_PRIORITY["high"],
                    producer=producer,
                )
        return time.monotonic() - started

    def bench_user_id(self) -> int:
        """The bench user's id in the main database."""
        return int(self.query("SELECT id FROM users WHERE name = 'bench'")[0][0])

    def stop_scenario_services(self) -> None:
        """Stop every service but the shared web apps (workers, scenario-specific webs)."""
        for service in list(self.stack.services):
            if service not in (self._app_web, self._bare_web):
                self.stack.stop(service)

    def server_versions(self) -> dict[str, str]:
        """Postgres and Redis versions of the stack."""
        postgres = self.query("SHOW server_version")[0][0]
        redis_version = self.stack.redis().info("server")["redis_version"]
        return {"postgres": str(postgres), "redis": str(redis_version)}

    def post_job(self, kind: str, job_input: dict[str, Any]) -> tuple[str, float]:
        """Submit one job through the API; returns (job id, epoch seconds just before sending)."""
        body = json.dumps({"kind": kind, "input": job_input}).encode()
        request = urllib.request.Request(
            f"{self.app_web().url}/api/v1/jobs", data=body, headers=self.auth, method="POST"
        )
        sent = time.time()
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(json.load(response)["id"]), sent

    def query(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement on the database under test; rows if it returns any."""
        with closing(self.stack.connect()) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall()) if cur.description else []

    def wait_final(self, expected: int, cap_s: float) -> int:
        """Poll until `expected` jobs are final or `cap_s` passes; returns how many are."""
        deadline = time.monotonic() + cap_s
        with closing(self.stack.connect()) as conn, conn.cursor() as cur:
            while True:
                cur.execute(
                    "SELECT count(*) FROM jobs WHERE status = ANY(%s)", (list(FINAL_STATUSES),)
                )
                done = int(cur.fetchone()[0])
                if done >= expected or time.monotonic() > deadline:
                    return done
                time.sleep(0.2)


@contextmanager
def hard_cap(seconds: float, what: str) -> Iterator[None]:
    """Raise ScenarioTimeout in the main thread if the block runs longer than `seconds`."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise ScenarioTimeout(f"{what} ran past its {seconds:.0f} s cap")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
