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

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    String,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
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


NOW = func.now()
"""`now()` in SQL, one shared object: statements that use it can be cached."""

STARTED_NOW = func.coalesce(Job.started_at, func.now())
"""A job's first start time (kept on later moves); shared, like NOW."""

_SHARED_EXPRESSIONS = {id(NOW): "now", id(STARTED_NOW): "started_now"}

_STATEMENTS: dict[tuple[Any, ...], Any] = {}
"""Built write statements by shape (bound parameters carry the values): building one
costs more CPU than running it, and a stage hand-over runs several."""

_STATEMENTS_MAX = 512


def transition(
    job_id: str,
    source: str | Collection[str],
    target: str,
    *,
    where: ColumnElement[bool] | None = None,
    **fields: Any,
) -> bool:
    """Move a job from `source` to `target` if it is still there; False if it was not."""
    sources = (source,) if isinstance(source, str) else tuple(source)
    for each in sources:
        check_transition(each, target)
    values: dict[str, Any] = {"status": target, **fields}
    if target == PROCESSING:
        values.setdefault("started_at", STARTED_NOW)
    if target in FINAL:
        values.setdefault("finished_at", NOW)
    if target == PENDING:
        values.update(finished_at=None, error=None)
    return _write(job_id, sources, values, where=where, event_type="status")


def record_progress(
    job_id: str,
    *,
    where: ColumnElement[bool] | None = None,
    event_type: str = "progress",
    **fields: Any,
) -> bool:
    """Set stage/progress/message of a processing job; False if it is no longer processing."""
    return _write(job_id, (PROCESSING,), fields, where=where, event_type=event_type)


def _write(
    job_id: str,
    sources: tuple[str, ...],
    values: dict[str, Any],
    *,
    where: ColumnElement[bool] | None,
    event_type: str,
) -> bool:
    params = {f"v_{name}": value for name, value in values.items() if not _is_sql(value)}
    params.update(p_job_id=job_id, p_sources=list(sources), p_event_type=event_type)
    row = db.session.execute(_statement(values, where), params).one_or_none()
    if row is None:
        return False
    # The documented key order (jsonb keeps its own).
    data = {key: row.data[key] for key in EVENT_FIELDS if key in row.data}
    publish_after_commit(db.session(), job_id, row.seq, event_type, data)
    if row.webhook is not None:
        stage_before = row.stage_before if "stage" in values else data["stage"]
        name = webhook_event(event_type, data["status"], data["stage"], stage_before)
        if name is not None:
            job = {
                "id": job_id,
                "kind": row.kind,
                **data,
                "error": data.get("error"),
                "seq": row.seq,
            }
            queue_webhook(job_id, row.webhook, name, job)
    return True


def _is_sql(value: Any) -> bool:
    return isinstance(value, ClauseElement)


def _statement(values: dict[str, Any], where: ColumnElement[bool] | None) -> Any:
    """The write for this shape of values, from the cache when it can be shared."""
    shape: tuple[Any, ...] | None = None
    if where is None and all(
        not _is_sql(value) or id(value) in _SHARED_EXPRESSIONS for value in values.values()
    ):
        shape = tuple(
            (name, _SHARED_EXPRESSIONS.get(id(value)) if _is_sql(value) else None)
            for name, value in values.items()
        )
        cached = _STATEMENTS.get(shape)
        if cached is not None:
            return cached
    stmt = _build(values, where)
    if shape is not None and len(_STATEMENTS) < _STATEMENTS_MAX:
        _STATEMENTS[shape] = stmt
    return stmt


def _build(values: dict[str, Any], where: ColumnElement[bool] | None) -> Any:
    # One statement: the UPDATE (in a CTE) numbers the change, the INSERT records it.
    columns = Job.__table__.c
    assignments = {
        name: value if _is_sql(value) else bindparam(f"v_{name}", type_=columns[name].type)
        for name, value in values.items()
    }
    condition: ColumnElement[bool] = Job.status.in_(bindparam("p_sources", expanding=True))
    if where is not None:
        condition = condition & where
    # The stage before this write (a sub-select sees the row as the statement found it);
    # only jobs with a webhook evaluate it, to tell a stage change from a progress note.
    before = aliased(Job)
    old_stage = select(before.stage).where(before.id == bindparam("p_job_id")).scalar_subquery()
    moved = (
        update(Job)
        .where(Job.id == bindparam("p_job_id"), condition)
        .values(**assignments, last_seq=Job.last_seq + 1, updated_at=NOW)
        .returning(
            Job.id, Job.last_seq, Job.status, Job.stage, Job.progress, Job.message, Job.error
        )
        .returning(Job.kind, Job.webhook)
        .returning(case((Job.webhook.is_not(None), old_stage)).label("stage_before"))
        .cte("moved")
    )
    event_type = bindparam("p_event_type", type_=String)
    events = JobEvent.__table__  # Core: with ORM insert(), parameters mean a bulk INSERT
    recorded = (
        insert(events)
        .from_select(
            ["job_id", "seq", "type", "data"],
            select(moved.c.id, moved.c.last_seq, event_type, _event_data(moved)),
        )
        .returning(events.c.seq, events.c.data)
        .cte("recorded")
    )
    return select(
        recorded.c.seq, recorded.c.data, moved.c.kind, moved.c.webhook, moved.c.stage_before
    ).select_from(recorded.join(moved, true()))


EVENT_FIELDS = ("status", "stage", "progress", "message", "error")
"""What an event's data holds: the job's state after the change (error only when set)."""


def _event_data(moved: Any) -> ColumnElement[Any]:
    state = func.jsonb_build_object(
        *(part for key in EVENT_FIELDS[:-1] for part in (literal(key), moved.c[key])),
        type_=JSONB,
    )
    with_error = state.op("||")(func.jsonb_build_object(literal("error"), moved.c.error))
    # A cleared error is SQL NULL or JSON null (how the JSON type stores None).
    no_error = moved.c.error.is_(None) | (func.jsonb_typeof(moved.c.error) == "null")
    return case((no_error, state), else_=with_error)


def append_created_event(job: Job) -> None:
    """Number and record the creation of a job that is being inserted."""
    job.last_seq = 1
    data = {"status": job.status, "stage": job.stage, "progress": 0, "message": job.message}
    db.session.add(JobEvent(job_id=job.id, seq=1, type="status", data=data))
    publish_after_commit(db.session(), job.id, 1, "status", data)
