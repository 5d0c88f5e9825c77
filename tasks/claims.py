"""Stage rows under the attempt fence.

A stage message carries the attempt count it expects. `claim_stage` moves the
row from pending to running only if `attempts` still equals that number, and
bumps it: of two deliveries of one message, exactly one claims. Every later
write by the claimer matches on the new number (the fence), so a zombie
worker whose stage was handed to someone else writes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, update

from tasks.db import db
from tasks.models import Job, JobStage


def claim_stage(job_id: str, stage: str, expected_attempts: int) -> int | None:
    """Take a pending stage for one attempt; the new attempt number is the fence."""
    stmt = (
        update(JobStage)
        .where(
            JobStage.job_id == job_id,
            JobStage.name == stage,
            JobStage.status == "pending",
            JobStage.attempts == expected_attempts,
        )
        .values(
            status="running",
            attempts=JobStage.attempts + 1,
            started_at=func.coalesce(JobStage.started_at, func.now()),
            heartbeat_at=func.now(),
            error=None,
        )
        .returning(JobStage.attempts)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(stmt).scalar_one_or_none()


def holds_fence(job_id: str, stage: str, fence: int) -> ColumnElement[bool]:
    """SQL condition: this attempt still owns the running stage."""
    return exists().where(
        JobStage.job_id == job_id,
        JobStage.name == stage,
        JobStage.status == "running",
        JobStage.attempts == fence,
    )


def settle_stage(job_id: str, stage: str, fence: int, status: str, **values: Any) -> bool:
    """Move a running stage this attempt owns to `status`; False if the fence was lost."""
    if status in ("completed", "failed", "canceled"):
        values.setdefault("finished_at", func.now())
    stmt = (
        update(JobStage)
        .where(
            JobStage.job_id == job_id,
            JobStage.name == stage,
            JobStage.status == "running",
            JobStage.attempts == fence,
        )
        .values(status=status, **values)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(stmt).rowcount == 1  # type: ignore[attr-defined,no-any-return]


def heartbeat(job_id: str, stage: str, fence: int) -> bool:
    """Record that this attempt is alive; False if it lost the stage or the job left processing."""
    stmt = (
        update(JobStage)
        .where(
            JobStage.job_id == job_id,
            JobStage.name == stage,
            JobStage.status == "running",
            JobStage.attempts == fence,
            exists().where(Job.id == job_id, Job.status == "processing"),
        )
        .values(heartbeat_at=func.now())
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(stmt).rowcount == 1  # type: ignore[attr-defined,no-any-return]


def mark_enqueued(job_id: str, stage: str, attempts: int) -> None:
    """Note that a message for this stage attempt is with the broker."""
    db.session.execute(
        update(JobStage)
        .where(
            JobStage.job_id == job_id,
            JobStage.name == stage,
            JobStage.status == "pending",
            JobStage.attempts == attempts,
        )
        .values(enqueued_at=func.now())
        .execution_options(synchronize_session=False)
    )
