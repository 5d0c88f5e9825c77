"""Creating jobs: insert and commit first, then enqueue the first stage."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func

from tasks.db import db
from tasks.enqueue import enqueue_stage
from tasks.models import Job, JobStage, User, new_job_id
from tasks.pipelines import stages_of
from tasks.states import PENDING, append_created_event

QUEUED_MESSAGE = "Waiting for a worker"
"""A pending job's message."""


def submit_job(*, user: User, kind: str, job_input: dict[str, Any], lane: str) -> Job:
    """Create a pending job with its stages and enqueue the first one."""
    stages = stages_of(kind)
    job = Job(
        id=new_job_id(),
        user_id=user.id,
        kind=kind,
        status=PENDING,
        priority=lane,
        input=job_input,
        message=QUEUED_MESSAGE,
        progress=0,
        admitted_at=func.now(),
        stages=[JobStage(position=i, name=stage.name) for i, stage in enumerate(stages)],
    )
    db.session.add(job)
    append_created_event(job)
    db.session.commit()
    # A failed send is logged and left to the reconciler; the job is safe in Postgres.
    enqueue_stage(job.id, stages[0].name, attempts=0, lane=lane)
    return job
