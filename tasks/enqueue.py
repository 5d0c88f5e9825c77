"""Sending stage messages to the broker: one queue per stage, lanes as Redis priorities.

Each stage has its own queue so stage pools scale apart. A job's lane becomes
the message priority; kombu's Redis transport keeps one list per priority step
and pops the most urgent step across all of a worker's queues first.

Callers commit the job's state first; a send that fails leaves the stage
pending with no `enqueued_at`, and the reconciler sends it later.
"""

from __future__ import annotations

import logging

import redis.exceptions
from flask import current_app
from kombu.exceptions import OperationalError

from tasks.claims import mark_enqueued, unmark_enqueued
from tasks.db import db

log = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, redis.exceptions.RedisError, OSError)
"""What a publish raises when Redis is down or unreachable."""


LANE_PRIORITY = {"high": 0, "default": 3, "low": 6}
"""lane -> Redis message priority (with Redis, 0 is the most urgent)."""

PRIORITY_STEPS = sorted(LANE_PRIORITY.values())
"""The priority lists kombu keeps per queue."""


def queue_name(stage: str) -> str:
    """The queue a stage's messages go to; it is named after the stage."""
    return stage


def stage_task_name(stage: str) -> str:
    """The Celery task name of a stage, e.g. `stage.generate`."""
    return f"stage.{stage}"


def enqueue_stage(
    job_id: str, stage: str, *, attempts: int, lane: str, countdown_s: float | None = None
) -> bool:
    """Publish one stage attempt; False (and logged) when the broker cannot take it."""
    return enqueue_stages([(job_id, stage, attempts, lane)], countdown_s=countdown_s) == 1


def send_marked_stages(stages: list[tuple[str, str, int, str]]) -> int:
    """Publish (job id, stage, attempts, lane) stage attempts whose rows are already marked sent.

    The mark was committed with the change that made the stage due (one
    transaction instead of two); if the broker cannot take a message, that
    mark and the later ones are cleared, so the reconciler treats them as
    never sent. Returns how many were sent.
    """
    for sent, (job_id, stage, attempts, lane) in enumerate(stages):
        if not _send(job_id, stage, attempts, lane, countdown_s=None):
            for unsent in stages[sent:]:
                unmark_enqueued(*unsent[:3])
            db.session.commit()
            return sent
    return len(stages)


def enqueue_stages(
    stages: list[tuple[str, str, int, str]], *, countdown_s: float | None = None
) -> int:
    """Publish (job id, stage, attempts, lane) stage attempts; mark the sent ones in one commit."""
    sent = []
    for job_id, stage, attempts, lane in stages:
        if not _send(job_id, stage, attempts, lane, countdown_s=countdown_s):
            break  # the broker is down: the rest would fail too; the reconciler sends them
        sent.append((job_id, stage, attempts))
    for job_id, stage, attempts in sent:
        mark_enqueued(job_id, stage, attempts)
    db.session.commit()
    return len(sent)


def _send(job_id: str, stage: str, attempts: int, lane: str, *, countdown_s: float | None) -> bool:
    """Publish one stage attempt; False (and logged) when the broker cannot take it."""
    # The Celery app of the Flask app whose context we are in (web request or task).
    celery_app = current_app.extensions["celery"]
    try:
        celery_app.send_task(
            stage_task_name(stage),
            args=(job_id, attempts),
            queue=queue_name(stage),
            priority=LANE_PRIORITY[lane],
            countdown=countdown_s,
        )
    except BROKER_ERRORS as exc:
        log.warning("could not enqueue %s of job %s (will retry later): %s", stage, job_id, exc)
        return False
    return True
