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


def _stage_row(
    job_id: str, stage: str, *, status: str, attempts: int
) -> tuple[ColumnElement[bool], ...]:
    """The WHERE clause naming one stage row, in one status, at one attempt count (the fence)."""
    return (
        JobStage.job_id == job_id,
        JobStage.name == stage,
        JobStage.status == status,
        JobStage.attempts == attempts,
    )


def _update_stage(conditions: tuple[ColumnElement[bool], ...], **values: Any) -> int:
    stmt = update(JobStage).where(*conditions).values(**values)
    result = db.session.execute(stmt.execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim_stage(job_id: str, stage: str, expected_attempts: int) -> int | None:
    """Take a pending stage for one attempt; the new attempt number is the fence."""
    stmt = (
        update(JobStage)
        .where(*_stage_row(job_id, stage, status="pending", attempts=expected_attempts))
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
    return exists().where(*_stage_row(job_id, stage, status="running", attempts=fence))


def settle_stage(job_id: str, stage: str, fence: int, status: str, **values: Any) -> bool:
    """Move a running stage this attempt owns to `status`; False if the fence was lost."""
    if status in ("completed", "failed", "canceled"):
        values.setdefault("finished_at", func.now())
    row = _stage_row(job_id, stage, status="running", attempts=fence)
    return _update_stage(row, status=status, **values) == 1


def heartbeat(job_id: str, stage: str, fence: int) -> bool:
    """Record that this attempt is alive; False if it lost the stage or the job left processing."""
    row = _stage_row(job_id, stage, status="running", attempts=fence)
    still_processing = exists().where(Job.id == job_id, Job.status == "processing")
    return _update_stage((*row, still_processing), heartbeat_at=func.now()) == 1


def mark_enqueued(job_id: str, stage: str, attempts: int) -> None:
    """Note that a message for this stage attempt is with the broker."""
    _update_stage(
        _stage_row(job_id, stage, status="pending", attempts=attempts), enqueued_at=func.now()
    )


def wake_stage(job_id: str, stage: str, fence: int) -> bool:
    """Take a stage parked on its provider back to running; exactly one waker wins."""
    row = _stage_row(job_id, stage, status="waiting", attempts=fence)
    woken = _update_stage(
        row, status="running", heartbeat_at=func.now(), callback_token=None, poll_at=None
    )
    return woken == 1
