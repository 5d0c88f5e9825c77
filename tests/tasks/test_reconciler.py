"""A submit while Redis is down leaves a pending job that the reconciler sends later."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tasks.db import db
from tasks.maintenance import reconcile_stages
from tasks.models import Job, JobStage

pytestmark = pytest.mark.timeout(60)


def test_a_job_submitted_while_the_broker_is_down_runs_after_reconcile(
    app: Any,
    make_app: Callable[..., Any],
    auth: dict[str, str],
    celery_session_worker: Any,
    wait_for_job: Callable[..., Any],
) -> None:
    down = make_app({"CELERY": {"broker_url": "redis://127.0.0.1:1/0"}})
    started = time.monotonic()
    response = down.test_client().post(
        "/api/v1/jobs", json={"kind": "image", "input": {"prompt": "survives"}}, headers=auth
    )
    assert time.monotonic() - started < 10
    assert response.status_code == 202
    job_id = response.get_json()["id"]

    with app.app_context():
        first = db.session.execute(
            db.select(JobStage).where(JobStage.job_id == job_id, JobStage.position == 0)
        ).scalar_one()
        assert first.enqueued_at is None
        assert reconcile_stages() == 0  # too fresh: it may still be on its way
        db.session.execute(
            db.update(Job)
            .where(Job.id == job_id)
            .values(updated_at=db.func.now() - db.text("interval '1 minute'"))
        )
        db.session.commit()
        assert reconcile_stages() == 1
    assert wait_for_job(job_id, auth)["status"] == "completed"
