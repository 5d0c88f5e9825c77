"""Creating jobs: insert and commit first, then admit (and so enqueue) what the user's cap allows.

One call creates one job or a batch, optionally under an Idempotency-Key: the
key, the jobs and the batch are written in one transaction, so two concurrent
requests with one key create one set of jobs (the second waits on the unique
key, then replays the first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert

from tasks.admission import admit_waiting, admits_on_submit
from tasks.db import db
from tasks.enqueue import send_marked_stages
from tasks.models import Batch, IdempotencyKey, Job, JobStage, User, new_job_id
from tasks.pipelines import stages_of
from tasks.states import PENDING, append_created_event
from tasks.webhook_accounts import WebhookSpec, job_webhooks

QUEUED_MESSAGE = "Waiting for a worker"
"""A pending job's message."""

IDEMPOTENCY_TTL = timedelta(hours=24)
"""How long an Idempotency-Key is remembered."""


class IdempotencyConflict(Exception):
    """The Idempotency-Key was already used with a different request."""


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """What one job should do: a validated kind, input and lane."""

    kind: str
    input: dict[str, Any]
    lane: str
    webhook: WebhookSpec | None = None  # None: the user's default webhook, if any


@dataclass(kw_only=True)
class Submission:
    """The outcome: the jobs (in request order), the batch if any, and whether it was replayed."""

    job_ids: list[str] = field(default_factory=list)
    batch_id: str | None = None
    replayed: bool = False
    jobs: list[Job] = field(default_factory=list)
    """The new jobs, still loaded (no re-read needed to answer); empty for a replay."""


def submit_jobs(
    user: User,
    specs: list[JobSpec],
    *,
    as_batch: bool = False,
    idempotency_key: str | None = None,
    request_hash: str = "",
) -> Submission:
    """Create pending jobs (and a batch), commit, then admit and enqueue what fits the cap."""
    key_id = None
    if idempotency_key is not None:
        key_id, replay = _claim_key(user.id, idempotency_key, request_hash)
        if replay is not None:
            return replay
    batch = Batch(id=new_job_id(), user_id=user.id) if as_batch else None
    if batch is not None:
        db.session.add(batch)
    webhooks = job_webhooks(user.id, [spec.webhook for spec in specs])
    admitted_at = admits_on_submit(user, len(specs))
    jobs = [
        _new_job(user, spec, batch, webhook=webhook, admitted_at=admitted_at)
        for spec, webhook in zip(specs, webhooks, strict=True)
    ]
    db.session.flush()
    if key_id is not None:
        db.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.id == key_id)
            .values(job_id=None if batch else jobs[0].id, batch_id=batch.id if batch else None)
        )
    first_stages = [(job.id, job.stages[0].name, 0, job.priority) for job in jobs]
    batch_id = batch.id if batch else None
    _commit_keeping_loaded(jobs)
    # A failed send is logged and left to the reconciler; the jobs are safe in Postgres.
    if admitted_at is not None:
        send_marked_stages(first_stages)
    else:
        admit_waiting(user.id)
    return Submission(
        job_ids=[job_id for job_id, *_ in first_stages],
        batch_id=batch_id,
        jobs=jobs,
    )


def _commit_keeping_loaded(jobs: list[Job]) -> None:
    """Commit, and keep the new jobs loaded (detached) so the caller answers from them."""
    for job in jobs:
        db.session.expunge(job)  # with its stages; the session re-reads the job if asked
    db.session.commit()


def _new_job(
    user: User,
    spec: JobSpec,
    batch: Batch | None,
    *,
    webhook: dict[str, Any] | None,
    admitted_at: datetime | None,
) -> Job:
    job = Job(
        id=new_job_id(),
        user_id=user.id,
        kind=spec.kind,
        status=PENDING,
        priority=spec.lane,
        input=spec.input,
        message=QUEUED_MESSAGE,
        progress=0,
        batch_id=batch.id if batch else None,
        webhook=webhook,
        # An admitted job's first stage is marked sent here and sent after the commit.
        admitted_at=admitted_at,
        # Per row, not per transaction: a batch's jobs keep their order in the queue.
        created_at=func.clock_timestamp(),
        stages=[
            JobStage(position=i, name=stage.name, enqueued_at=admitted_at if i == 0 else None)
            for i, stage in enumerate(stages_of(spec.kind))
        ],
    )
    db.session.add(job)
    append_created_event(job)
    return job


def _claim_key(user_id: int, key: str, request_hash: str) -> tuple[int | None, Submission | None]:
    """Insert the key (returns its id), or find the earlier request it names (returns a replay)."""
    expired = func.now() - IDEMPOTENCY_TTL
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id,
            IdempotencyKey.key == key,
            IdempotencyKey.created_at < expired,
        )
    )
    # If another transaction holds this key uncommitted, this waits for it to finish.
    key_id = db.session.execute(
        insert(IdempotencyKey)
        .values(user_id=user_id, key=key, request_hash=request_hash)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    ).scalar_one_or_none()
    if key_id is not None:
        return key_id, None
    earlier = db.session.execute(
        select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key)
    ).scalar_one()
    db.session.rollback()
    if earlier.request_hash != request_hash:
        raise IdempotencyConflict(key)
    if earlier.batch_id is not None:
        job_ids = db.session.execute(
            select(Job.id).where(Job.batch_id == earlier.batch_id).order_by(Job.created_at, Job.id)
        ).scalars()
        return None, Submission(job_ids=list(job_ids), batch_id=earlier.batch_id, replayed=True)
    return None, Submission(job_ids=[str(earlier.job_id)], replayed=True)
