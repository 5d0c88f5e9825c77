"""Provider-async stages: a stage parked while the provider works, and how it wakes.

A stage whose provider hands back a job id is *parked*: its row moves running ->
waiting under the same attempt (the fence still holds) with the provider's job
id, a random callback token and the time of its next poll. No worker waits.
A `provider.poll` task sent with a countdown asks the provider; a signed callback
to /api/v1/callbacks/{provider}/{token} sends that task at once. Whichever sees
the result first moves the row back to running (`claims.wake_stage`: one wins)
and finishes the stage; later polls and callbacks find nothing waiting. Each
scheduled poll carries a ticket (the `poll_at` it was sent for) and only the
holder of the current one schedules the next: one poll chain per parked stage.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, func, select, update

from config import get_settings
from tasks.claims import settle_stage
from tasks.db import db
from tasks.enqueue import BROKER_ERRORS
from tasks.models import JobStage
from tasks.providers import ProviderJob

log = logging.getLogger(__name__)

POLL_TASK = "provider.poll"
"""Celery task name of a poll (it lives in tasks.provider_poll)."""

POLL_QUEUE = "provider_poll"
"""Polls are short calls: their own queue keeps them from waiting behind long stages."""


@dataclass(frozen=True, kw_only=True)
class WaitingStage:
    """A parked stage attempt, as a poll or a callback sees it."""

    job_id: str
    stage: str
    fence: int
    provider_job_id: str
    waited_s: float


@dataclass(frozen=True, kw_only=True)
class ScheduledPoll:
    """A poll to send: after `countdown_s`, carrying the `poll_at` it is due at (its ticket)."""

    countdown_s: float
    due: str


def _schedule(delay_s: float) -> tuple[datetime, ScheduledPoll]:
    due = datetime.now(UTC) + timedelta(seconds=delay_s)
    return due, ScheduledPoll(countdown_s=delay_s, due=due.isoformat())


def park_stage(
    job_id: str, stage: str, fence: int, job: ProviderJob, *, callback_token: str
) -> ScheduledPoll | None:
    """Park a running stage on a provider job; its first poll, or None if the fence was lost."""
    due, poll = _schedule(job.poll_after_s or get_settings().provider_poll_interval_s)
    parked = settle_stage(
        job_id,
        stage,
        fence,
        "waiting",
        provider_job_id=job.id,
        callback_token=callback_token,
        waiting_since=func.now(),
        poll_at=due,
    )
    return poll if parked else None


def send_poll(
    job_id: str, stage: str, fence: int, *, countdown_s: float, due: str | None = None
) -> bool:
    """Ask a worker to poll the provider after `countdown_s`; False if the broker is down.

    `due` is the scheduled poll's ticket (the `poll_at` it was sent for): only the poll
    holding the current ticket carries the chain on. Extra polls (`due=None`: a
    callback's) ask once and stop, so two chains never run side by side.
    """
    try:
        current_app.extensions["celery"].send_task(
            POLL_TASK, args=(job_id, stage, fence, due), queue=POLL_QUEUE, countdown=countdown_s
        )
    except BROKER_ERRORS as exc:  # the reconciler re-sends overdue polls
        log.warning("could not send a poll for %s of job %s: %s", stage, job_id, exc)
        return False
    return True


def _waiting(*conditions: ColumnElement[bool]) -> WaitingStage | None:
    row = db.session.execute(
        select(
            JobStage.job_id,
            JobStage.name,
            JobStage.attempts,
            JobStage.provider_job_id,
            func.extract("epoch", func.now() - JobStage.waiting_since).label("waited_s"),
        ).where(JobStage.status == "waiting", *conditions)
    ).one_or_none()
    if row is None:
        return None
    return WaitingStage(
        job_id=row.job_id,
        stage=row.name,
        fence=row.attempts,
        provider_job_id=row.provider_job_id,
        waited_s=float(row.waited_s),
    )


def waiting_stage(job_id: str, stage: str, fence: int) -> WaitingStage | None:
    """This stage attempt, if it is still parked."""
    return _waiting(JobStage.job_id == job_id, JobStage.name == stage, JobStage.attempts == fence)


def waiting_stage_for_callback(token: str, provider_job_id: str | None) -> WaitingStage | None:
    """The parked stage a callback is about: by its URL token, else by the provider's job id.

    Providers that take a callback URL per request get the stage's own token; those
    with one fixed webhook URL (OpenAI's project webhooks) name their job in the body.
    Tokens are cleared when the stage wakes, so a late callback finds nothing.
    """
    found = _waiting(JobStage.callback_token == token)
    if found is None and provider_job_id:
        found = _waiting(JobStage.provider_job_id == provider_job_id)
    return found


def next_poll_delay_s(waited_s: float) -> float:
    """Poll often at first, then back off to a quarter of the time waited (capped)."""
    settings = get_settings()
    return min(
        settings.provider_poll_max_interval_s, max(settings.provider_poll_interval_s, waited_s / 4)
    )


def schedule_next_poll(waiting: WaitingStage, due: str | None) -> None:
    """If this poll holds the current ticket, move `poll_at` on, commit, and send the next."""
    if due is None:
        return
    next_due, poll = _schedule(next_poll_delay_s(waiting.waited_s))
    result = db.session.execute(
        update(JobStage)
        .where(
            JobStage.job_id == waiting.job_id,
            JobStage.name == waiting.stage,
            JobStage.status == "waiting",
            JobStage.attempts == waiting.fence,
            JobStage.poll_at == datetime.fromisoformat(due),
        )
        .values(poll_at=next_due)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if result.rowcount == 1:  # type: ignore[attr-defined]
        send_poll(
            waiting.job_id, waiting.stage, waiting.fence, countdown_s=poll.countdown_s, due=poll.due
        )


def resend_overdue_polls(limit: int = 200) -> int:
    """Send polls for parked stages whose poll is long overdue (the message was lost)."""
    grace = timedelta(seconds=get_settings().lost_message_grace_s)
    rows = db.session.execute(
        select(JobStage.job_id, JobStage.name, JobStage.attempts, JobStage.poll_at)
        .where(JobStage.status == "waiting", JobStage.poll_at < func.now() - grace)
        .limit(limit)
    ).all()
    db.session.commit()
    # The re-sent poll holds the lost one's ticket: it carries the chain on.
    sent = sum(
        send_poll(row.job_id, row.name, row.attempts, countdown_s=0, due=row.poll_at.isoformat())
        for row in rows
    )
    if rows:
        log.warning("re-sent %s of %s overdue provider polls", sent, len(rows))
    return sent
