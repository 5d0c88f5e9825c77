"""The `provider.poll` task: ask the provider about a parked stage's job, then wake or re-poll.

A poll is a short call, so it never holds a worker between polls: a job still
running on the provider's side is asked again later with a countdown that grows
with the time waited (`provider_jobs.next_poll_delay_s`).
"""

from __future__ import annotations

import logging

from celery import shared_task

from config import get_settings
from tasks.claims import wake_stage
from tasks.db import RETRY_WHILE_DATABASE_DOWN, db
from tasks.errors import PermanentError, ProviderTimeout, TransientError
from tasks.provider_jobs import POLL_TASK, WaitingStage, schedule_next_poll, waiting_stage
from tasks.providers import ProviderJobStatus, get_provider
from tasks.runner import finish_waiting_stage

log = logging.getLogger(__name__)


@shared_task(
    name=POLL_TASK,
    ignore_result=True,
    **RETRY_WHILE_DATABASE_DOWN,
)
def poll_provider_job(job_id: str, stage: str, fence: int, due: str | None = None) -> None:
    """Ask the provider about a parked stage's job; finish the stage once it is done."""
    waiting = waiting_stage(job_id, stage, fence)
    db.session.commit()
    if waiting is None:
        return  # woken already (callback or an earlier poll), canceled, or reaped
    status = _ask_provider(waiting)
    if status is None:
        schedule_next_poll(waiting, due)
        return
    job = wake_stage(job_id, stage, fence)
    if job is None:
        db.session.rollback()
        return  # another poll or callback got there first, or the job ended
    db.session.commit()
    finish_waiting_stage(job, stage, status)


def _ask_provider(waiting: WaitingStage) -> ProviderJobStatus | None:
    """The provider's answer once its job ended (or failed for good); None to ask later."""
    try:
        status = get_provider().check_job(waiting.provider_job_id)
    except TransientError as exc:
        log.warning(
            "poll of provider job %s failed (will ask again): %s", waiting.provider_job_id, exc
        )
        status = ProviderJobStatus(done=False)
    except PermanentError as exc:
        return ProviderJobStatus(done=True, error=exc)
    if status.done:
        return status
    timeout_s = get_settings().provider_job_timeout_s
    if waiting.waited_s > timeout_s:
        error = ProviderTimeout(f"the provider's job did not finish within {timeout_s:.0f} s")
        return ProviderJobStatus(done=True, error=error)
    return None
