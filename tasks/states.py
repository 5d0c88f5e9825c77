"""The job state machine: allowed moves, and the only functions that write a job's state.

Every write is a conditional ``UPDATE ... WHERE status IN (:from)`` that bumps
the job's ``last_seq`` and appends a `JobEvent` with that number, in the
caller's transaction, with a webhook delivery row when the job has a webhook
that wants the event (`tasks.webhook_outbox`). Two workers racing to move one
job: one UPDATE matches, the other sees no row and gets False.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, select, update
from sqlalchemy.orm import aliased

from tasks.db import db
from tasks.errors import InvalidTransition
from tasks.live_events import publish_after_commit
from tasks.models import Job, JobEvent
from tasks.webhook_outbox import queue_webhook, webhook_event

PENDING = "pending"
PROCESSING = "processing"
COMPLETED = "completed"
FAILED = "failed"
CANCELED = "canceled"

STATUSES = (PENDING, PROCESSING, COMPLETED, FAILED, CANCELED)
"""Every job status, in lifecycle order."""

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({PROCESSING, CANCELED, FAILED}),
    PROCESSING: frozenset({COMPLETED, FAILED, CANCELED}),
    FAILED: frozenset({PENDING}),
    CANCELED: frozenset({PENDING}),
    COMPLETED: frozenset(),
}
"""from-status -> the statuses it may move to; failed/canceled go back to pending on retry."""

FINAL = frozenset({COMPLETED, FAILED, CANCELED})
"""Statuses a job rests in until someone retries it."""

ACTIVE = frozenset({PENDING, PROCESSING})
"""Statuses of jobs that still have work to do."""


def check_transition(source: str, target: str) -> None:
    """Raise InvalidTransition unless the table allows source -> target."""
    if target not in TRANSITIONS.get(source, frozenset()):
        raise InvalidTransition(source, target)


def transition(
    job_id: str,
    source: str | Collection[str],
    target: str,
    *,
    where: ColumnElement[bool] | None = None,
    **fields: Any,
) -> bool:
    """Move a job from `source` to `target` if it is still there; False if it was not."""
    sources = [source] if isinstance(source, str) else list(source)
    for each in sources:
        check_transition(each, target)
    values: dict[str, Any] = {"status": target, **fields}
    if target == PROCESSING:
        values.setdefault("started_at", func.coalesce(Job.started_at, func.now()))
    if target in FINAL:
        values.setdefault("finished_at", func.now())
    if target == PENDING:
        values.update(finished_at=None, error=None)
    condition: ColumnElement[bool] = Job.status.in_(sources)
    if where is not None:
        condition = condition & where
    return _write(job_id, condition, values, event_type="status")


def record_progress(
    job_id: str,
    *,
    where: ColumnElement[bool] | None = None,
    event_type: str = "progress",
    **fields: Any,
) -> bool:
    """Set stage/progress/message of a processing job; False if it is no longer processing."""
    condition: ColumnElement[bool] = Job.status == PROCESSING
    if where is not None:
        condition = condition & where
    return _write(job_id, condition, fields, event_type=event_type)


def _write(
    job_id: str,
    condition: ColumnElement[bool],
    values: dict[str, Any],
    *,
    event_type: str,
) -> bool:
    returned: list[Any] = [Job.last_seq, Job.status, Job.stage, Job.progress, Job.message]
    returned += [Job.error, Job.kind, Job.webhook]
    if "stage" in values:
        # The stage before this write (a sub-select sees the row as the statement found it);
        # only jobs with a webhook evaluate it, to tell a stage change from a progress note.
        before = aliased(Job)
        old_stage = select(before.stage).where(before.id == job_id).scalar_subquery()
        returned.append(case((Job.webhook.is_not(None), old_stage)).label("stage_before"))
    stmt = (
        update(Job)
        .where(Job.id == job_id, condition)
        .values(**values, last_seq=Job.last_seq + 1, updated_at=func.now())
        .returning(*returned)
        .execution_options(synchronize_session=False)
    )
    row = db.session.execute(stmt).one_or_none()
    if row is None:
        return False
    data = {
        "status": row.status,
        "stage": row.stage,
        "progress": row.progress,
        "message": row.message,
    }
    if row.error:
        data["error"] = row.error
    db.session.execute(
        insert(JobEvent).values(job_id=job_id, seq=row.last_seq, type=event_type, data=data)
    )
    publish_after_commit(db.session(), job_id, row.last_seq, event_type, data)
    if row.webhook is not None:
        stage_before = row.stage_before if "stage" in values else row.stage
        name = webhook_event(event_type, row.status, row.stage, stage_before)
        if name is not None:
            job = {"id": job_id, "kind": row.kind, **data, "error": row.error, "seq": row.last_seq}
            queue_webhook(job_id, row.webhook, name, job)
    return True


def append_created_event(job: Job) -> None:
    """Number and record the creation of a job that is being inserted."""
    job.last_seq = 1
    data = {"status": job.status, "stage": job.stage, "progress": 0, "message": job.message}
    db.session.add(JobEvent(job_id=job.id, seq=1, type="status", data=data))
    publish_after_commit(db.session(), job.id, 1, "status", data)
