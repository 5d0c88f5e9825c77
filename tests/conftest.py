"""Shared fixtures: real Postgres and Redis (embedded unless the URLs are set), real Celery workers.

Before anything imports the app, this module points DATABASE_URL at a fresh
`<name>_test` database and REDIS_URL at Redis database 1, so tests never touch
the data of `make run`. Only the outside AI provider is simulated
(`fake_provider`, a local server that speaks the OpenAI HTTP API).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import redis
from sqlalchemy.engine import make_url

from config.embedded import ensure_services
from config.settings import load_settings

FINAL_STATUSES = ("completed", "failed", "canceled")

CALLBACK_SECRET = "whsec_" + "dGVzdC1jYWxsYmFjay1zZWNyZXQtMzItYnl0ZXMh"
"""Provider callbacks in tests are signed with this Standard Webhooks secret."""


@contextmanager
def admin_connection(database_url: str) -> Iterator[Any]:
    """A cursor on the server's `postgres` database, for CREATE/DROP DATABASE."""
    url = make_url(database_url)
    conn = psycopg2.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname="postgres"
    )
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()


def _point_at_test_services() -> tuple[str, str]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GENERATION_PROVIDER"):
        os.environ.pop(name, None)
    database_url, redis_url = ensure_services(load_settings())
    url = make_url(database_url)
    # Per process, so two test runs on one machine never share a database or queues.
    test_url = url.set(database=f"{url.database}_test_{os.getpid()}")
    with admin_connection(database_url) as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{test_url.database}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{test_url.database}"')
    test_redis = (
        redis_url.rsplit("/", 1)[0] + "/1" if redis_url.count("/") > 2 else redis_url + "/1"
    )
    os.environ.update(
        BROKER_KEY_PREFIX=f"test-{os.getpid()}:",
        DATABASE_URL=test_url.render_as_string(hide_password=False),
        REDIS_URL=test_redis,
        ARTIFACTS_DIR=tempfile.mkdtemp(prefix="genjobs-artifacts-"),
        RETRY_BACKOFF_BASE_S="0.2",
        SSE_HEARTBEAT_S="1",
        SSE_QUEUE_REFRESH_S="0.5",
        RETRY_BACKOFF_MAX_S="1",
        PROVIDER_POLL_INTERVAL_S="0.3",
        PROVIDER_CALLBACK_SECRET=CALLBACK_SECRET,
        # Webhook receivers in tests listen on loopback; retries come within seconds.
        WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
        WEBHOOK_RETRY_SCHEDULE_S="0.5,1",
        PROGRESS_PUSH_SECRET="test-progress-push-secret",
    )
    return os.environ["DATABASE_URL"], test_redis


TEST_DATABASE_URL, TEST_REDIS_URL = _point_at_test_services()


@pytest.fixture(scope="session")
def app() -> Iterator[Any]:
    """The Flask app on the test database, migrated from empty."""
    from flask_migrate import upgrade

    from tasks.db import db
    from webapp import create_app

    flask_app = create_app({"TESTING": True})
    with flask_app.app_context():
        upgrade()
    _delete_run_keys()
    yield flask_app
    _delete_run_keys()
    with flask_app.app_context():
        db.engine.dispose()
    with admin_connection(TEST_DATABASE_URL) as cur:
        cur.execute(
            f'DROP DATABASE IF EXISTS "{make_url(TEST_DATABASE_URL).database}" WITH (FORCE)'
        )


def _delete_run_keys() -> None:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    for key in client.scan_iter(match=os.environ["BROKER_KEY_PREFIX"] + "*", count=1000):
        client.delete(key)


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> None:
    """Each test starts with no users and no jobs."""
    if "app" not in request.fixturenames:
        return
    from sqlalchemy.exc import OperationalError

    from tasks.db import db

    # The session worker may still be handing over a stage of the previous test's
    # jobs (stage row, then job row): TRUNCATE locks the tables the other way round,
    # and Postgres may pick it as the deadlock victim. Try again.
    for attempt in range(5):
        with request.getfixturevalue("app").app_context():
            try:
                db.session.execute(db.text("TRUNCATE users, jobs CASCADE"))
                db.session.commit()
                return
            except OperationalError as exc:
                db.session.rollback()
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
        time.sleep(0.1)


@pytest.fixture
def make_app(app: Any) -> Iterator[Callable[..., Any]]:
    """Build another app (e.g. with a dead broker); the session app stays Celery's default.

    Celery keeps one default app per process and the in-process worker's threads
    resolve tasks through it, so a second app must not stay the default.
    """
    real = app.extensions["celery"]

    def make(config: dict[str, Any]) -> Any:
        from webapp import create_app

        other = create_app({"TESTING": True, **config})
        real.set_default()
        real.set_current()
        return other

    yield make
    real.set_default()
    real.set_current()


@pytest.fixture
def client(app: Any) -> Any:
    """Flask's test client."""
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    """Flask's CLI runner."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Any) -> Callable[..., tuple[int, str]]:
    """Create a user; returns (user id, API key)."""
    from tasks.db import db
    from tasks.models import User
    from webapp.auth import issue_api_key

    def make(name: str = "alice", tier: str = "standard") -> tuple[int, str]:
        with app.app_context():
            user = User(name=name, tier=tier)
            db.session.add(user)
            key = issue_api_key(user)
            db.session.commit()
            return user.id, key

    return make


@pytest.fixture
def auth(make_user: Callable[..., tuple[int, str]]) -> dict[str, str]:
    """Authorization headers of a fresh standard user."""
    _, key = make_user()
    return {"Authorization": f"Bearer {key}"}


# --- Celery: the real app, a real in-process worker on the real Redis ---------------


@pytest.fixture(scope="session")
def celery_session_app(app: Any) -> Any:
    """Our own Celery app (tasks run inside the Flask app context)."""
    return app.extensions["celery"]


@pytest.fixture(scope="session")
def celery_worker_pool() -> str:
    """Threads, as in production: stages wait on providers."""
    return "threads"


@pytest.fixture(scope="session")
def celery_worker_parameters(celery_session_app: Any) -> dict[str, Any]:
    """Consume every queue; no ping check (we keep no result backend)."""
    queues = [queue.name for queue in celery_session_app.conf.task_queues]
    return {"queues": queues, "concurrency": 4, "perform_ping_check": False}


@pytest.fixture
def wait_for_job(client: Any) -> Callable[..., dict[str, Any]]:
    """Poll GET /api/v1/jobs/{id} until the job is in one of `statuses`; returns its JSON."""

    def wait(
        job_id: str,
        headers: dict[str, str],
        statuses: tuple[str, ...] = FINAL_STATUSES,
        timeout_s: float = 20,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}", headers=headers).get_json()
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} still {job['status']} after {timeout_s} s: {job}"
                )
            time.sleep(0.05)

    return wait


# --- The outside AI provider, simulated ----------------------------------------------


@pytest.fixture
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A local OpenAI-compatible server, with the workers' `openai` provider pointed at it."""
    from tests.fake_openai import FakeOpenAI

    with FakeOpenAI() as fake, _openai_provider(fake) as provider:
        use_provider(monkeypatch, provider)
        yield fake


@pytest.fixture
def background_provider(fake_provider: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The fake OpenAI server, with images made as background responses (provider-async)."""
    with _openai_provider(fake_provider, OPENAI_IMAGE_MODE="background") as provider:
        use_provider(monkeypatch, provider)
        yield fake_provider


@contextmanager
def _openai_provider(fake: Any, **env: str) -> Iterator[Any]:
    from tasks.providers.openai_provider import OpenAIProvider

    settings = load_settings(
        {
            **os.environ,
            "GENERATION_PROVIDER": "openai",
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": fake.base_url,
            "PROVIDER_TIMEOUT_S": "3",
            **env,
        }
    )
    provider = OpenAIProvider.from_settings(settings)
    try:
        yield provider
    finally:
        provider.client.close()


def use_provider(monkeypatch: pytest.MonkeyPatch, provider: Any) -> None:
    """Make the in-process workers' stages and provider polls use `provider`."""
    from tasks import provider_poll, runner

    for module in (runner, provider_poll):
        monkeypatch.setattr(module, "get_provider", lambda: provider)


@pytest.fixture(scope="session")
def live_server(app: Any, celery_session_worker: Any) -> Iterator[str]:
    """The app served over HTTP on a free loopback port (for browsers and clients)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def insert_job(app: Any, make_user: Callable[..., tuple[int, str]]) -> Callable[..., str]:
    """Insert a job with its stages in a given status; returns its id (nothing is enqueued)."""
    from tasks.db import db
    from tasks.models import Job, JobStage, new_job_id
    from tasks.pipelines import stages_of
    from tasks.states import append_created_event

    default_owner: list[int] = []

    def insert(
        status: str = "pending",
        kind: str = "image",
        user_id: int | None = None,
        admitted: bool = True,
    ) -> str:
        if user_id is None:
            default_owner[:] = default_owner or [make_user("job-owner")[0]]
            user_id = default_owner[0]
        job = Job(
            id=new_job_id(),
            user_id=user_id,
            kind=kind,
            status=status,
            priority="default",
            input={"prompt": "a test prompt", "size": "256x256", "quality": "auto"},
            admitted_at=db.func.now() if admitted else None,
            stages=[JobStage(position=i, name=s.name) for i, s in enumerate(stages_of(kind))],
        )
        with app.app_context():
            db.session.add(job)
            append_created_event(job)
            db.session.commit()
            return job.id

    return insert


@pytest.fixture
def stack(tmp_path: Path, make_app: Callable[..., Any]) -> Iterator[Any]:
    """Private Postgres and Redis, the web app on them, and room for worker processes.

    Heartbeat, reaper and reconciler intervals are short, so recovery takes seconds.
    """
    from flask_migrate import upgrade

    from tasks.db import db
    from tests.fake_openai import FakeOpenAI
    from tests.processes import PrivatePostgres, PrivateRedis, Stack

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
            "HEARTBEAT_TIMEOUT_S": "6",  # generous: a loaded 2-core machine stalls threads
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
