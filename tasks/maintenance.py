"""Periodic upkeep run by Celery beat."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import and_, func, or_, select

from tasks.db import db
from tasks.enqueue import enqueue_stage
from tasks.models import Job, JobStage
from tasks.states import ACTIVE

log = logging.getLogger(__name__)

UNSENT_GRACE_S = 15
"""A stage pending this long without a broker message is sent again."""


@shared_task(name="maintenance.enqueue_unsent", ignore_result=True)
def enqueue_unsent(limit: int = 500) -> int:
    """Send stages that are due but whose first send failed (broker down at submit)."""
    cutoff = func.now() - timedelta(seconds=UNSENT_GRACE_S)
    rows = db.session.execute(
        select(JobStage.job_id, JobStage.name, JobStage.attempts, Job.priority)
        .join(Job, Job.id == JobStage.job_id)
        .where(
            Job.status.in_(ACTIVE),
            Job.updated_at < cutoff,
            JobStage.status == "pending",
            JobStage.enqueued_at.is_(None),
            # The due stage: the job's current one, or the first while nothing has started.
            or_(
                JobStage.name == Job.stage,
                and_(Job.stage.is_(None), JobStage.position == 0),
            ),
        )
        .order_by(Job.created_at)
        .limit(limit)
    ).all()
    sent = sum(
        enqueue_stage(job_id, stage, attempts=attempts, lane=lane)
        for job_id, stage, attempts, lane in rows
    )
    if rows:
        log.info("reconciler re-sent %s of %s unsent stages", sent, len(rows))
    return sent
