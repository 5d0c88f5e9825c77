"""Stage rows under the attempt fence.

A stage message carries the attempt count it expects. `claim_stage_of_active_job` moves the
row from pending to running only if `attempts` still equals that number, and
bumps it: of two deliveries of one message, exactly one claims. Every later
write by the claimer matches on the new number (the fence), so a zombie
worker whose stage was handed to someone else writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, func, select, update

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


# Core tables, not ORM entities, for the statements built once: the ORM would rebuild
# each one's cache key on every execution.
_STAGES, _JOBS = JobStage.__table__, Job.__table__
_EARLIER = _STAGES.alias("earlier")
_OUTPUTS = (
    select(func.jsonb_object_agg(_EARLIER.c.name, _EARLIER.c.output))
    .where(_EARLIER.c.job_id == _STAGES.c.job_id, _EARLIER.c.status == "completed")
    .scalar_subquery()
)
"""The job's completed stages' outputs, by stage name (NULL when there are none)."""


_THIS_STAGE = (
    _STAGES.c.job_id == bindparam("p_job_id"),
    _STAGES.c.name == bindparam("p_stage"),
    _STAGES.c.status == bindparam("p_status"),
    _STAGES.c.attempts == bindparam("p_attempts"),
)
"""`_stage_row` with bound parameters, for the statements built once below."""

# The job is read in a CTE: Postgres then locks the jobs table before job_stages, the
# order every other statement (and TRUNCATE ... CASCADE) takes them in.
_ACTIVE_JOB = (
    select(_JOBS.c.id, _JOBS.c.kind, _JOBS.c.status, _JOBS.c.priority, _JOBS.c.user_id)
    .add_columns(_JOBS.c.input)
    .where(_JOBS.c.id == bindparam("p_job_id"), _JOBS.c.status.in_(("pending", "processing")))
    .cte("job")
)


def _taking_stage(**values: Any) -> Any:
    """UPDATE of one stage row of an active job, returning what running the stage needs."""
    return (
        update(_STAGES)
        .where(*_THIS_STAGE, _STAGES.c.job_id == _ACTIVE_JOB.c.id)
        .values(**values)
        .returning(
            _STAGES.c.attempts,
            _STAGES.c.retries_from,
            _ACTIVE_JOB.c.kind,
            _ACTIVE_JOB.c.status,
            _ACTIVE_JOB.c.priority,
            _ACTIVE_JOB.c.user_id,
            _ACTIVE_JOB.c.input,
            _OUTPUTS,
        )
    )


_CLAIM_OF_ACTIVE_JOB = _taking_stage(
    status="running",
    attempts=_STAGES.c.attempts + 1,
    started_at=func.coalesce(_STAGES.c.started_at, func.now()),
    heartbeat_at=func.now(),
    error=None,
)
"""Built once: the hot path of every stage."""

_WAKE_OF_ACTIVE_JOB = _taking_stage(
    status="running", heartbeat_at=func.now(), callback_token=None, poll_at=None
)
"""Built once: a parked stage back to running, same attempt (the fence holds)."""


def claim_stage_of_active_job(job_id: str, stage: str, expected_attempts: int) -> Claim | None:
    """Take a pending stage of an active job for one attempt: the new attempt count is the fence.

    One statement instead of reading the job, claiming, and reading the earlier
    stages' outputs. The job row is read, not locked, so the row lock order stays
    stage row, then job row.
    """
    row = db.session.execute(
        _CLAIM_OF_ACTIVE_JOB, _this_stage(job_id, stage, "pending", expected_attempts)
    ).one_or_none()
    return None if row is None else _claim(job_id, row)


def wake_stage(job_id: str, stage: str, fence: int) -> Claim | None:
    """Take a stage parked on its provider back to running; exactly one waker wins."""
    row = db.session.execute(
        _WAKE_OF_ACTIVE_JOB, _this_stage(job_id, stage, "waiting", fence)
    ).one_or_none()
    return None if row is None else _claim(job_id, row)


def _claim(job_id: str, row: Any) -> Claim:
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
    if status == "completed" and set(values) == {"output"}:
        params = _this_stage(job_id, stage, "running", fence)
        result = db.session.execute(_COMPLETE, {**params, "v_output": values["output"]})
        return int(result.rowcount) == 1  # type: ignore[attr-defined]
    if status in ("completed", "failed", "canceled"):
        values.setdefault("finished_at", func.now())
    row = _stage_row(job_id, stage, status="running", attempts=fence)
    return _update_stage(row, status=status, **values) == 1


_COMPLETE = (
    update(_STAGES)
    .where(*_THIS_STAGE)
    .values(
        status="completed",
        output=bindparam("v_output", type_=_STAGES.c.output.type),
        finished_at=func.now(),
    )
)
"""Built once: a stage that completed (the common settle)."""


def _this_stage(job_id: str, stage: str, status: str, attempts: int) -> dict[str, Any]:
    return {"p_job_id": job_id, "p_stage": stage, "p_status": status, "p_attempts": attempts}


def heartbeat(job_id: str, stage: str, fence: int) -> bool:
    """Record that this attempt is alive; False if it lost the stage or the job left processing."""
    result = db.session.execute(_HEARTBEAT, _this_stage(job_id, stage, "running", fence))
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


_HEARTBEAT = (
    update(_STAGES)
    .where(
        *_THIS_STAGE,
        exists().where(_JOBS.c.id == bindparam("p_job_id"), _JOBS.c.status == "processing"),
    )
    .values(heartbeat_at=func.now())
)
"""Built once: running stages beat every few seconds."""


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
    params = {"p_job_id": job_id, "p_stage": stage}
    return db.session.execute(_MARK_NEXT, params).scalar_one_or_none()


_MARK_NEXT = (
    update(_STAGES)
    .where(
        _STAGES.c.job_id == bindparam("p_job_id"),
        _STAGES.c.name == bindparam("p_stage"),
        _STAGES.c.status == "pending",
    )
    .values(enqueued_at=func.now())
    .returning(_STAGES.c.attempts)
)


def unmark_enqueued(job_id: str, stage: str, attempts: int) -> None:
    """The send of a marked stage failed: leave it for the reconciler as never sent."""
    _update_stage(_stage_row(job_id, stage, status="pending", attempts=attempts), enqueued_at=None)
