"""Beat tasks: the reaper takes over dead workers' stages; the reconciler re-sends lost ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tasks.broker_scan import held_stage_messages
from tasks.claims import claim_stage_of_active_job
from tasks.db import db
from tasks.enqueue import enqueue_stage
from tasks.maintenance import reap_stale_stages, reconcile_stages
from tasks.models import Job, JobStage
from tasks.pipelines import STAGE_NAMES
from tasks.states import transition

pytestmark = pytest.mark.timeout(60)

LONG_AGO = db.text("now() - interval '2 hours'")


def _owned_job(
    make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> tuple[str, dict[str, str]]:
    user_id, key = make_user("maint")
    return insert_job(user_id=user_id), {"Authorization": f"Bearer {key}"}


def _start_and_abandon(job_id: str, attempts_before: int = 0) -> None:
    """What a worker killed mid-stage leaves behind: a running stage, an old heartbeat."""
    claim = claim_stage_of_active_job(job_id, "prepare", attempts_before)
    assert claim is not None and claim.fence == attempts_before + 1
    transition(job_id, "pending", "processing", stage="prepare")
    db.session.execute(
        db.update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.name == "prepare")
        .values(heartbeat_at=LONG_AGO)
    )
    db.session.commit()


def test_a_stage_whose_worker_died_runs_again_and_completes(
    celery_session_worker: Any,
    make_user: Callable[..., tuple[int, str]],
    insert_job: Callable[..., str],
    wait_for_job: Callable[..., Any],
) -> None:
    job_id, auth = _owned_job(make_user, insert_job)
    _start_and_abandon(job_id)
    assert reap_stale_stages() == 1
    job = wait_for_job(job_id, auth)
    assert job["status"] == "completed", job
    assert [s["attempts"] for s in job["stages"]] == [2, 1, 1]
    assert reap_stale_stages() == 0


def test_a_stage_that_keeps_losing_workers_fails_the_job(
    make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    job_id, _ = _owned_job(make_user, insert_job)
    db.session.execute(
        db.update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.name == "prepare")
        .values(attempts=2)
    )
    db.session.commit()
    _start_and_abandon(job_id, attempts_before=2)
    reap_stale_stages()
    db.session.expire_all()
    job = db.session.get(Job, job_id)
    assert job is not None and job.status == "failed"
    assert job.error == {
        "code": "worker_lost",
        "message": "the worker running prepare stopped",
        "retryable": True,
    }


def test_a_fresh_heartbeat_is_left_alone(
    make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    job_id, _ = _owned_job(make_user, insert_job)
    assert claim_stage_of_active_job(job_id, "prepare", 0) is not None
    transition(job_id, "pending", "processing", stage="prepare")
    db.session.commit()
    assert reap_stale_stages() == 0


def test_a_stage_lost_by_the_broker_is_sent_again(
    celery_session_worker: Any,
    make_user: Callable[..., tuple[int, str]],
    insert_job: Callable[..., str],
    wait_for_job: Callable[..., Any],
) -> None:
    job_id, auth = _owned_job(make_user, insert_job)
    # Postgres says it was sent two hours ago; Redis holds no such message.
    db.session.execute(
        db.update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.name == "prepare")
        .values(enqueued_at=LONG_AGO)
    )
    db.session.commit()
    assert reconcile_stages() == 1
    assert wait_for_job(job_id, auth)["status"] == "completed"


def test_a_stage_the_broker_still_holds_is_not_sent_again(
    celery_session_worker: Any,
    make_user: Callable[..., tuple[int, str]],
    insert_job: Callable[..., str],
) -> None:
    job_id, _ = _owned_job(make_user, insert_job)
    # Delivered to the worker but held for a countdown: it sits in Redis's unacked set.
    enqueue_stage(job_id, "prepare", attempts=0, lane="default", countdown_s=30)
    db.session.execute(
        db.update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.name == "prepare")
        .values(enqueued_at=LONG_AGO)
    )
    db.session.commit()
    for _ in range(100):
        if (job_id, "prepare", 0) in held_stage_messages(STAGE_NAMES):
            break
        db.session.execute(db.text("SELECT pg_sleep(0.05)"))
    assert (job_id, "prepare", 0) in held_stage_messages(STAGE_NAMES)
    assert reconcile_stages() == 0
