"""Chaos with real processes: SIGKILLed workers, and Redis and Postgres restarted mid-run.

Each test runs worker and beat processes (`celery -A make_celery ...`) against a
private Postgres and Redis, with the `openai` provider pointed at the fake
server. Heartbeat, reaper and reconciler intervals are shortened so recovery
takes seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask_migrate import upgrade

from tasks.db import db
from tasks.models import Job, JobStage, User
from tests.fake_openai import FakeOpenAI
from tests.processes import CeleryProcess, PrivatePostgres, PrivateRedis, wait_until
from webapp.auth import issue_api_key

pytestmark = pytest.mark.timeout(150)


class Stack:
    """The private services, the web app on them, and the processes a test starts."""

    def __init__(self, base: Path, app: Any, env: dict[str, str], fake: FakeOpenAI) -> None:
        self.base, self.app, self.env, self.fake = base, app, env, fake
        self.processes: list[CeleryProcess] = []
        with app.app_context():
            user = User(name="chaos")
            db.session.add(user)
            self.auth = {"Authorization": f"Bearer {issue_api_key(user)}"}
            db.session.commit()

    def worker(self, name: str, concurrency: int = 4) -> CeleryProcess:
        """Start a worker process consuming every queue."""
        args = ["worker", "--pool", "threads", "--concurrency", str(concurrency)]
        args += ["-n", f"{name}@%h", "--loglevel", "INFO", "--without-mingle", "--without-gossip"]
        return self._start(args, name)

    def beat(self) -> CeleryProcess:
        """Start beat (reaper and reconciler every second)."""
        return self._start(["beat", "--loglevel", "INFO", "-s", str(self.base / "beat")], "beat")

    def submit(self, count: int) -> list[str]:
        """Submit `count` image jobs through the API."""
        client = self.app.test_client()
        body = {"kind": "image", "input": {"prompt": "chaos", "size": "256x256"}}
        ids = []
        for _ in range(count):
            response = client.post("/api/v1/jobs", json=body, headers=self.auth)
            assert response.status_code == 202, response.get_json()
            ids.append(response.get_json()["id"])
        return ids

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


@pytest.fixture
def stack(tmp_path: Path, make_app: Callable[..., Any]) -> Iterator[Stack]:
    postgres = PrivatePostgres(tmp_path / "pg")
    broker = PrivateRedis(tmp_path)
    with FakeOpenAI() as fake:
        app = make_app(
            {"SQLALCHEMY_DATABASE_URI": postgres.url, "CELERY": {"broker_url": broker.url}}
        )
        with app.app_context():
            upgrade()
        env = {
            "DATABASE_URL": postgres.url,
            "REDIS_URL": broker.url,
            "ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            "LOCAL_DIR": str(tmp_path / "local"),
            "GENERATION_PROVIDER": "openai",
            "OPENAI_API_KEY": "chaos",
            "OPENAI_BASE_URL": fake.base_url,
            "PROVIDER_TIMEOUT_S": "10",
            "HEARTBEAT_INTERVAL_S": "0.5",
            "HEARTBEAT_TIMEOUT_S": "3",
            "MAINTENANCE_INTERVAL_S": "1",
            "LOST_MESSAGE_GRACE_S": "3",
        }
        stack = Stack(tmp_path, app, env, fake)
        stack.postgres, stack.broker = postgres, broker  # type: ignore[attr-defined]
        try:
            yield stack
        finally:
            for process in stack.processes:  # the test is over: no need for a warm shutdown
                process.kill()
            with app.app_context():
                db.engine.dispose()
            postgres.stop()
            broker.stop()


def test_a_sigkilled_worker_s_stage_completes_on_another_worker(stack: Stack) -> None:
    stack.fake.set_delay("images/generations", 3.0)
    doomed = stack.worker("doomed")
    stack.beat()
    (job_id,) = stack.submit(1)
    wait_until(lambda: stack.stages(job_id)["generate"].status == "running", 30, "generate")
    doomed.kill()
    stack.fake.set_delay("images/generations", 0.0)
    stack.worker("survivor")

    stack.wait_all_completed([job_id], timeout_s=60)
    stages = stack.stages(job_id)
    assert stages["generate"].attempts == 2
    assert stages["generate"].error is None
    assert (stages["prepare"].attempts, stages["finalize"].attempts) == (1, 1)
    files = sorted(p.name for p in (stack.base / "artifacts" / job_id).iterdir())
    assert files == ["generated.png", "image.png", "thumbnail.png"]


def test_fifty_jobs_survive_a_redis_restart(stack: Stack) -> None:
    stack.fake.set_delay("images/generations", 0.3)
    stack.worker("one")
    stack.worker("two")
    stack.beat()
    ids = stack.submit(50)
    wait_until(lambda: "completed" in stack.statuses(ids).values(), 60, "a first job to finish")
    stack.broker.restart()  # type: ignore[attr-defined]
    # Queued stage messages were lost with Redis while most jobs still had work to do.
    assert list(stack.statuses(ids).values()).count("completed") < 40

    stack.wait_all_completed(ids, timeout_s=90)
    for job_id in ids[:10]:
        assert all(stage.status == "completed" for stage in stack.stages(job_id).values())


def test_jobs_survive_a_postgres_restart(stack: Stack) -> None:
    stack.fake.set_delay("images/generations", 0.3)
    stack.worker("one")
    stack.beat()
    ids = stack.submit(20)
    wait_until(lambda: "completed" in stack.statuses(ids).values(), 60, "a first job to finish")
    stack.postgres.restart()  # type: ignore[attr-defined]

    stack.wait_all_completed(ids, timeout_s=90)
    assert len(stack.fake.calls("images/generations")) >= 20
