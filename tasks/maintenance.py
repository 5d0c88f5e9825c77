"""Periodic upkeep run by Celery beat: re-send lost or unsent stages, reap dead workers' stages."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy import and_, func, or_, select

from config import get_settings
from tasks.admission import admit_waiting, due_stage, users_with_waiting_jobs
from tasks.broker_scan import held_stage_messages
from tasks.claims import settle_stage
from tasks.db import db
from tasks.enqueue import enqueue_stage
from tasks.errors import WorkerLost
from tasks.models import Job, JobStage
from tasks.pipelines import STAGE_NAMES
from tasks.provider_jobs import resend_overdue_polls
from tasks.redis_clients import key, scan_client
from tasks.runner import retry_or_fail_stage
from tasks.states import ACTIVE, PROCESSING

log = logging.getLogger(__name__)

UNSENT_GRACE_S = 15
"""A stage due this long with no recorded send is sent (its first send failed)."""


@shared_task(name="maintenance.reconcile_stages", ignore_result=True)
def reconcile_stages(limit: int = 500) -> int:
    """Send due stages (and provider polls) the broker lost or never got."""
    # One reconciler at a time: two overlapping runs (beat catching up after an outage)
    # would both see the same stages missing and send each twice.
    lock = scan_client().lock(key("genjobs:reconcile"), timeout=120, blocking=False)
    if not lock.acquire():
        return 0
    try:
        return _reconcile(limit) + resend_overdue_polls()
    finally:
        lock.release()


def _reconcile(limit: int) -> int:
    now, lost_grace = func.now(), timedelta(seconds=get_settings().lost_message_grace_s)
    rows = db.session.execute(
        select(
            JobStage.job_id, JobStage.name, JobStage.attempts, JobStage.enqueued_at, Job.priority
        )
        .join(Job, Job.id == JobStage.job_id)
        .where(
            Job.status.in_(ACTIVE),
            Job.admitted_at.is_not(None),  # waiting jobs are admission's business
            JobStage.status == "pending",
            due_stage(),
            or_(
                and_(
                    JobStage.enqueued_at.is_(None),
                    Job.updated_at < now - timedelta(seconds=UNSENT_GRACE_S),
                ),
                JobStage.enqueued_at < now - lost_grace,
            ),
        )
        .order_by(Job.created_at)
        .limit(limit)
    ).all()
    db.session.commit()
    held = held_stage_messages(STAGE_NAMES) if any(row.enqueued_at for row in rows) else set()
    missing = [
        row
        for row in rows
        if row.enqueued_at is None or (row.job_id, row.name, row.attempts) not in held
    ]
    sent = sum(
        enqueue_stage(row.job_id, row.name, attempts=row.attempts, lane=row.priority)
        for row in missing
    )
    if missing:
        log.warning(
            "reconciler re-sent %s of %s stages the broker did not hold", sent, len(missing)
        )
    return sent


@shared_task(name="maintenance.reap_stale_stages", ignore_result=True)
def reap_stale_stages(limit: int = 200) -> int:
    """Hand running stages whose heartbeat stopped to a new attempt (or fail the job)."""
    cutoff = func.now() - timedelta(seconds=get_settings().heartbeat_timeout_s)
    rows = db.session.execute(
        select(
            JobStage.job_id,
            JobStage.name,
            JobStage.attempts,
            JobStage.retries_from,
            Job.priority,
            Job.status,
        )
        .join(Job, Job.id == JobStage.job_id)
        .where(JobStage.status == "running", JobStage.heartbeat_at < cutoff)
        .limit(limit)
    ).all()
    db.session.commit()
    for row in rows:
        if row.status != PROCESSING:  # canceled or failed while its worker was gone
            settle_stage(row.job_id, row.name, row.attempts, "canceled")
            db.session.commit()
            continue
        log.warning(
            "stage %s of job %s lost its worker (attempt %s)", row.name, row.job_id, row.attempts
        )
        retry_or_fail_stage(
            row.job_id,
            row.name,
            fence=row.attempts,
            attempt=row.attempts - row.retries_from,
            lane=row.priority,
            error=WorkerLost(f"the worker running {row.name} stopped"),
        )
    return len(rows)


@shared_task(name="maintenance.admit_waiting_jobs", ignore_result=True)
def admit_waiting_jobs() -> int:
    """Admit waiting jobs whose users have room (a safety net: finishing jobs admit at once)."""
    return sum(admit_waiting(user_id) for user_id in users_with_waiting_jobs())
