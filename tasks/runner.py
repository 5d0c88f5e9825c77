"""The generic stage runner: claim a stage, run it, record the outcome, hand over.

Each stage name is one Celery task (`stage.<name>`) taking ids, not objects:
`(job_id, expected_attempts)`. The claim is committed before any provider call,
so a duplicate delivery finds the stage taken and does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded

from tasks.admission import admit_for_jobs
from tasks.artifacts import job_dir
from tasks.claims import (
    Claim,
    claim_stage_of_active_job,
    mark_next_enqueued,
    settle_stage,
)
from tasks.context import StageCanceled, StageContext
from tasks.db import DATABASE_DOWN, RETRY_WHILE_DATABASE_DOWN, db
from tasks.enqueue import enqueue_stage, send_marked_stages, stage_task_name
from tasks.errors import GenerationError, PermanentError, ProviderTimeout
from tasks.metrics import remember_kind
from tasks.pipelines import (
    STAGE_NAMES,
    AwaitProvider,
    Stage,
    StageOutcome,
    progress_at,
    stage_of,
    stages_of,
)
from tasks.provider_jobs import park_stage, send_poll
from tasks.providers import ProviderJobStatus, get_provider
from tasks.retry_policy import stage_retry_policy
from tasks.signals import stage_attempt_failed
from tasks.states import PENDING, PROCESSING, record_progress, transition

log = logging.getLogger(__name__)


class InternalError(PermanentError):
    """A bug in a stage: fail the job with a generic message (details go to the log)."""

    code = "internal_error"


def run_stage(job_id: str, stage_name: str, expected_attempts: int) -> None:
    """Run one attempt of one stage of a job, if this delivery wins the claim."""
    job = claim_stage_of_active_job(job_id, stage_name, expected_attempts)
    if job is None:
        db.session.rollback()
        log.info(
            "skip %s of job %s: job gone or finished, or attempt %s already claimed",
            stage_name,
            job_id,
            expected_attempts,
        )
        return
    remember_kind(job.id, job.kind)  # metrics and Flower labels then need no query
    fence = job.fence
    if not _start(job, stage_name):
        settle_stage(job_id, stage_name, fence, "canceled")
        db.session.commit()
        return
    db.session.commit()
    ctx = _context(job, stage_name, fence)
    stage = stage_of(job.kind, stage_name)
    _execute(job, ctx, stage, lambda: stage.run(ctx))


def finish_waiting_stage(job: Claim, stage_name: str, status: ProviderJobStatus) -> None:
    """Finish a stage its provider's job woke; the caller won `wake_stage` and committed."""
    ctx = _context(job, stage_name, job.fence)
    stage = stage_of(job.kind, stage_name)
    if status.error is not None:
        _retry_or_fail(job, ctx, status.error)
        return
    finish = stage.finish
    if finish is None:
        raise TypeError(f"stage {stage_name} waited on a provider job but has no finish")
    _execute(job, ctx, stage, lambda: finish(ctx, status))


def _execute(job: Claim, ctx: StageContext, stage: Stage, work: Callable[[], StageOutcome]) -> None:
    """Run a stage's work and record what came of it: output, provider job, retry or failure."""
    try:
        outcome = work()
    except StageCanceled:
        db.session.rollback()
        settle_stage(job.id, stage.name, ctx.fence, "canceled")
        db.session.commit()
    except SoftTimeLimitExceeded:
        _retry_or_fail(job, ctx, ProviderTimeout("the stage ran past its time limit"))
    except GenerationError as exc:
        _retry_or_fail(job, ctx, exc)
    except DATABASE_DOWN:
        raise  # not the stage's fault: the task's autoretry sends it again
    except Exception:
        log.exception("stage %s of job %s crashed", stage.name, job.id)
        _retry_or_fail(job, ctx, InternalError("an internal error stopped this job"))
    else:
        if isinstance(outcome, AwaitProvider):
            _park(job, ctx, outcome)
        else:
            _advance(job, ctx, stage, outcome)


def _park(job: Claim, ctx: StageContext, waiting: AwaitProvider) -> None:
    poll = park_stage(job.id, ctx.stage, ctx.fence, waiting.job, callback_token=ctx.callback_token)
    if poll is None:
        db.session.rollback()
        log.warning(
            "job %s: %s attempt %s lost its claim while parking", job.id, ctx.stage, ctx.fence
        )
        return
    record_progress(job.id, message=f"Waiting for the provider to finish {ctx.stage}")
    db.session.commit()
    send_poll(job.id, ctx.stage, ctx.fence, countdown_s=poll.countdown_s, due=poll.due)


def _start(job: Claim, stage_name: str) -> bool:
    progress = progress_at(job.kind, stage_name, 0)
    message = f"Running {stage_name}"

    def first_stage() -> bool:
        return transition(
            job.id, PENDING, PROCESSING, stage=stage_name, progress=progress, message=message
        )

    def later_stage() -> bool:
        # No fence condition needed: this transaction's claim holds the stage row's lock.
        return record_progress(
            job.id,
            event_type="stage",
            stage=stage_name,
            progress=progress,
            message=message,
        )

    # Try the move the claim says is due first; the other covers a status that moved since.
    tries = (first_stage, later_stage) if job.status == PENDING else (later_stage, first_stage)
    return any(attempt() for attempt in tries)


def _context(job: Claim, stage_name: str, fence: int) -> StageContext:
    return StageContext(
        job_id=job.id,
        kind=job.kind,
        stage=stage_name,
        fence=fence,
        attempt=fence - job.retries_from,
        input=job.input,
        outputs=job.outputs,
        provider=get_provider(),
        workdir=job_dir(job.id),
    )


def _advance(job: Claim, ctx: StageContext, stage: Stage, output: dict[str, Any]) -> None:
    if not settle_stage(job.id, stage.name, ctx.fence, "completed", output=output):
        db.session.rollback()
        log.warning(
            "job %s: %s attempt %s lost its claim; result dropped",
            job.id,
            stage.name,
            ctx.fence,
        )
        return
    stages = stages_of(job.kind)
    following = stages[[s.name for s in stages].index(stage.name) + 1 :]
    if not following:
        transition(
            job.id,
            PROCESSING,
            "completed",
            result=output,
            progress=100,
            message="Completed",
        )
        db.session.commit()
        admit_for_jobs([job.id])  # a slot under the user's cap is free
        return
    # One transaction hands over: settle, progress, and the next stage marked as sent.
    upcoming = following[0].name
    moved = record_progress(
        job.id,
        event_type="stage",
        stage=upcoming,
        progress=progress_at(job.kind, upcoming, 0),
        message=f"Waiting for {upcoming}",
    )
    attempts = mark_next_enqueued(job.id, upcoming) if moved else None
    db.session.commit()
    if attempts is not None:
        send_marked_stages([(job.id, upcoming, attempts, job.priority)])


def _retry_or_fail(job: Claim, ctx: StageContext, error: GenerationError) -> None:
    db.session.rollback()
    retry_or_fail_stage(
        job.id, ctx.stage, fence=ctx.fence, attempt=ctx.attempt, lane=job.priority, error=error
    )


def retry_or_fail_stage(
    job_id: str, stage: str, *, fence: int, attempt: int, lane: str, error: GenerationError
) -> None:
    """Apply the retry policy to a stage attempt that failed: re-send it later, or fail the job."""
    policy = stage_retry_policy()
    if policy.should_retry(error, attempt):
        delay_s = policy.delay_s(error, attempt)
        if settle_stage(job_id, stage, fence, PENDING, error=error.as_json(), enqueued_at=None):
            stage_attempt_failed.send(db.session(), stage=stage, error=error)
            record_progress(
                job_id,
                message=f"{error.message}; retrying in {delay_s:.0f} s "
                f"(attempt {attempt + 1} of {policy.max_attempts})",
            )
            db.session.commit()
            enqueue_stage(job_id, stage, attempts=fence, lane=lane, countdown_s=delay_s)
        return
    if settle_stage(job_id, stage, fence, "failed", error=error.as_json()):
        stage_attempt_failed.send(db.session(), stage=stage, error=error)
        transition(job_id, PROCESSING, "failed", error=error.as_json(), message=error.message)
        db.session.commit()
        admit_for_jobs([job_id])  # a slot under the user's cap is free


def _register_stage_task(stage: str) -> Task:
    # A claim that never committed is simply retried; one that did is found by the reaper.
    @shared_task(
        name=stage_task_name(stage),
        ignore_result=True,
        **RETRY_WHILE_DATABASE_DOWN,
    )
    def run(job_id: str, expected_attempts: int) -> None:
        run_stage(job_id, stage, expected_attempts)

    run.__doc__ = f"Run one attempt of the `{stage}` stage of a job."
    return run


STAGE_TASKS: dict[str, Task] = {stage: _register_stage_task(stage) for stage in STAGE_NAMES}
"""stage name -> its Celery task."""
