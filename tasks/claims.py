"""Stage rows under the attempt fence.

A stage message carries the attempt count it expects. `claim_stage` moves the
row from pending to running only if `attempts` still equals that number, and
bumps it: of two deliveries of one message, exactly one claims. Every later
write by the claimer matches on the new number (the fence), so a zombie
worker whose stage was handed to someone else writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import aliased

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


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A stage this attempt just claimed, with what running it needs from its job."""

    id: str
    kind: str
    status: str
    priority: str
    user_id: int
    input: dict[str, Any]
    fence: int
    retries_from: int
    outputs: dict[str, dict[str, Any]]


_EARLIER = aliased(JobStage)
_OUTPUTS = (
    select(func.jsonb_object_agg(_EARLIER.name, _EARLIER.output))
    .where(_EARLIER.job_id == JobStage.job_id, _EARLIER.status == "completed")
    .scalar_subquery()
)
"""The job's completed stages' outputs, by stage name (NULL when there are none)."""


def claim_stage_of_active_job(job_id: str, stage: str, expected_attempts: int) -> Claim | None:
    """Like `claim_stage`, for a pending or processing job only, returning the job's data.

    One statement instead of reading the job, claiming, and reading the earlier
    stages' outputs. The job row is read, not locked, so the row lock order stays
    stage row, then job row.
    """
    # The job is read in a CTE: Postgres then locks the jobs table before job_stages, the
    # order every other statement (and TRUNCATE ... CASCADE) takes them in.
    job = (
        select(Job.id, Job.kind, Job.status, Job.priority, Job.user_id, Job.input)
        .where(Job.id == job_id, Job.status.in_(("pending", "processing")))
        .cte("job")
    )
    stmt = (
        update(JobStage)
        .where(
            *_stage_row(job_id, stage, status="pending", attempts=expected_attempts),
            JobStage.job_id == job.c.id,
        )
        .values(
            status="running",
            attempts=JobStage.attempts + 1,
            started_at=func.coalesce(JobStage.started_at, func.now()),
            heartbeat_at=func.now(),
            error=None,
        )
        .returning(
            JobStage.attempts,
            JobStage.retries_from,
            job.c.kind,
            job.c.status,
            job.c.priority,
            job.c.user_id,
            job.c.input,
            _OUTPUTS,
        )
        .execution_options(synchronize_session=False)
    )
    row = db.session.execute(stmt).one_or_none()
    if row is None:
        return None
    fence, retries_from, kind, status, priority, user_id, job_input, outputs = row
    return Claim(
        id=job_id,
        kind=kind,
        status=status,
        priority=priority,
        user_id=user_id,
        input=job_input,
        fence=fence,
        retries_from=retries_from,
        outputs={name: output or {} for name, output in (outputs or {}).items()},
    )


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


def mark_next_enqueued(job_id: str, stage: str) -> int | None:
    """Mark a pending stage as sent, before its send, in the hand-over's transaction.

    Returns the attempt count its message must carry (None if the stage is not
    pending). A send that then fails clears the mark (`unmark_enqueued`).
    """
    stmt = (
        update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.name == stage, JobStage.status == "pending")
        .values(enqueued_at=func.now())
        .returning(JobStage.attempts)
        .execution_options(synchronize_session=False)
    )
    return db.session.execute(stmt).scalar_one_or_none()


def unmark_enqueued(job_id: str, stage: str, attempts: int) -> None:
    """The send of a marked stage failed: leave it for the reconciler as never sent."""
    _update_stage(_stage_row(job_id, stage, status="pending", attempts=attempts), enqueued_at=None)
