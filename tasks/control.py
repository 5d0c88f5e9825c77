"""What a user can do to a job after submitting it: cancel it, or retry it."""

from __future__ import annotations

from sqlalchemy import select, update

from tasks.admission import admit_for_jobs
from tasks.cancellation import clear_cancel, request_cancel
from tasks.db import db
from tasks.models import JobStage
from tasks.states import ACTIVE, CANCELED, FAILED, PENDING, transition


def cancel_job(job_id: str) -> bool:
    """Cancel a pending or processing job; False if it had already finished."""
    return cancel_jobs([job_id]) == 1


def cancel_jobs(job_ids: list[str]) -> int:
    """Cancel those of these jobs that are pending or processing; returns how many.

    Pending and parked (waiting) stages are marked canceled so none of them ever
    runs or wakes; a running stage sees the cancel flag within a poll interval and
    stops, keeping what it made.
    One transaction for all, then one admission pass per user: freed slots go to
    the users' waiting jobs.
    """
    # Lock order: stage rows, then job rows, as the workers take them (else they deadlock).
    job_ids = sorted(job_ids)
    db.session.execute(
        select(JobStage.id)
        .where(JobStage.job_id.in_(job_ids))
        .order_by(JobStage.job_id, JobStage.position)
        .with_for_update()
    )
    canceled = [
        job_id for job_id in job_ids if transition(job_id, ACTIVE, CANCELED, message="Canceled")
    ]
    if not canceled:
        db.session.rollback()
        return 0
    db.session.execute(
        update(JobStage)
        # A stage parked on its provider has no worker to tell: it ends here.
        .where(JobStage.job_id.in_(canceled), JobStage.status.in_(("pending", "waiting")))
        .values(status="canceled", callback_token=None, poll_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    for job_id in canceled:
        request_cancel(job_id)
    admit_for_jobs(canceled)
    return len(canceled)


def retry_job(job_id: str) -> bool:
    """Resume a failed or canceled job at its first unfinished stage; False if it cannot be."""
    stages = (
        db.session.execute(
            select(JobStage)
            .where(JobStage.job_id == job_id)
            .order_by(JobStage.position)
            .with_for_update()  # stage rows before the job row: the workers' lock order
        )
        .scalars()
        .all()
    )
    unfinished = [stage for stage in stages if stage.status != "completed"]
    if not unfinished:
        return False
    resume_at = unfinished[0].name
    if not transition(
        job_id,
        (FAILED, CANCELED),
        PENDING,
        stage=resume_at,
        message=f"Retrying from {resume_at}",
        admitted_at=None,  # back through admission: the cap applies to retries too
    ):
        return False
    # Attempts never go down (they fence out any worker still running an old attempt);
    # the new run's attempt budget starts from the current count.
    db.session.execute(
        update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.status != "completed")
        .values(
            status="pending",
            retries_from=JobStage.attempts,
            error=None,
            enqueued_at=None,
            finished_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    clear_cancel(job_id)
    admit_for_jobs([job_id])
    return True
