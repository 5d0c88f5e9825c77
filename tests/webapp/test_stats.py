"""/api/v1/stats and /ops: operators only; figures from Postgres, on indexes; Flower links."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, update

from tasks.db import db
from tasks.models import Job, JobStage, User


@pytest.fixture(autouse=True)
def _fresh_stats() -> Iterator[None]:
    from webapp.api import stats

    stats._cache = None
    yield
    stats._cache = None


@pytest.fixture
def admin(app: Any, make_user: Callable[..., tuple[int, str]]) -> dict[str, str]:
    """Authorization headers of an admin user."""
    user_id, key = make_user("ops-admin")
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(is_admin=True))
        db.session.commit()
    return {"Authorization": f"Bearer {key}"}


def _finished(
    insert_job: Callable[..., str],
    status: str,
    *,
    ran_s: float,
    waited_s: float,
    ago_s: float = 60,
) -> str:
    job_id = insert_job()
    finished = func.now() - timedelta(seconds=ago_s)
    started = finished - timedelta(seconds=ran_s)
    db.session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status=status,
            finished_at=finished,
            started_at=started,
            created_at=started - timedelta(seconds=waited_s),
        )
    )
    if status == "completed":
        db.session.execute(
            update(JobStage)
            .where(JobStage.job_id == job_id)
            .values(
                status="completed",
                enqueued_at=started - timedelta(seconds=waited_s),
                started_at=started,
                finished_at=started + timedelta(seconds=ran_s / 2),
            )
        )
    db.session.commit()
    return job_id


def test_stats_are_for_admins_only(
    client: Any, auth: dict[str, str], admin: dict[str, str]
) -> None:
    assert client.get("/api/v1/stats").status_code == 401
    refused = client.get("/api/v1/stats", headers=auth)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert client.get("/api/v1/stats", headers=admin).status_code == 200


def test_stats_figures_come_from_finished_jobs(
    app: Any, client: Any, admin: dict[str, str], insert_job: Callable[..., str]
) -> None:
    with app.app_context():
        for ran_s, waited_s in ((10, 1), (20, 2), (30, 3)):
            _finished(insert_job, "completed", ran_s=ran_s, waited_s=waited_s)
        _finished(insert_job, "failed", ran_s=5, waited_s=1)
        _finished(insert_job, "canceled", ran_s=5, waited_s=1)
        _finished(insert_job, "completed", ran_s=40, waited_s=4, ago_s=2 * 3600)

    body = client.get("/api/v1/stats", headers=admin).get_json()
    hour, day = body["windows"]["1h"], body["windows"]["24h"]
    assert (hour["completed"], hour["failed"], hour["canceled"]) == (3, 1, 1)
    assert hour["success_rate"] == 0.75
    assert hour["throughput_per_min"] == 0.05
    (image,) = hour["kinds"]
    assert image["duration_s"] == {"p50": 20.0, "p95": 29.0}
    assert image["queue_wait_s"] == {"p50": 2.0, "p95": 2.9}
    assert day["completed"] == 4 and day["success_rate"] == 0.8
    stages = [(s["stage"], s["count"]) for s in hour["stages"]]
    assert stages == [("prepare", 3), ("generate", 3), ("finalize", 3)]
    assert hour["stages"][0]["duration_s"]["p50"] == 10.0
    assert hour["stages"][0]["queue_wait_s"]["p50"] == 2.0
    assert body["queues"] is not None and {q["queue"] for q in body["queues"]} >= {"generate"}
    assert body["in_flight"] == []
    assert body["flower_url"].startswith("http")


def test_stats_queries_read_indexes(app: Any, client: Any, admin: dict[str, str]) -> None:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "percentile_cont" in statement or "'processing'" in str(params) + statement:
            statements.append((statement, params))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert client.get("/api/v1/stats", headers=admin).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 5  # jobs and stages for two windows, and jobs in flight
    with engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, params in statements:
            plan = connection.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
            assert not any("Seq Scan on jobs" in line for line in plan), plan
            assert not any("Seq Scan on job_stages" in line for line in plan), plan


def test_the_ops_page_is_for_signed_in_admins(
    client: Any, auth: dict[str, str], admin: dict[str, str]
) -> None:
    signed_out = client.get("/ops")
    assert signed_out.status_code == 401 and b"Operators only" in signed_out.data
    client.post("/api/v1/session", headers=auth)
    assert client.get("/ops").status_code == 403
    client.post("/api/v1/session", headers=admin)
    page = client.get("/ops")
    assert page.status_code == 200
    assert b"ops.js" in page.data and b'id="queues"' in page.data


@pytest.mark.usefixtures("celery_session_worker")
@pytest.mark.timeout(60)
def test_admins_get_a_flower_link_to_the_jobs_task(
    app: Any,
    client: Any,
    admin: dict[str, str],
    auth: dict[str, str],
    wait_for_job: Callable[..., dict[str, Any]],
) -> None:
    from flask import g

    from webapp.api.stats import with_operator_fields

    body = {"kind": "image", "input": {"prompt": "a lighthouse", "size": "256x256"}}
    job_id = client.post("/api/v1/jobs", json=body, headers=auth).get_json()["id"]
    assert wait_for_job(job_id, auth)["status"] == "completed"
    with app.test_request_context():
        job = db.session.get(Job, job_id)
        g.user = db.session.execute(db.select(User).where(User.is_admin)).scalar_one()
        linked = with_operator_fields(job, {"id": job_id})
        g.user = db.session.get(User, job.user_id)
        plain = with_operator_fields(job, {"id": job_id})
    assert linked["flower_url"].startswith("http://") and "/task/" in linked["flower_url"]
    assert len(linked["flower_url"].rsplit("/", 1)[1]) == 36  # the finalize task's uuid
    assert "flower_url" not in plain
