"""Cancel requests as a Redis flag, so a running stage notices within a poll interval.

Postgres already says `canceled` (the source of truth); the flag only spares the
worker a database read every half second. If Redis is down the flag is missed
and the worker notices at its next heartbeat, which reads the job's status.
"""

from __future__ import annotations

import logging

import redis

from tasks.redis_clients import key, quick_client

log = logging.getLogger(__name__)

FLAG_TTL_S = 24 * 3600
"""A cancel flag outlives any stage that could still be running."""


def _key(job_id: str) -> str:
    return key(f"genjobs:cancel:{job_id}")


def request_cancel(job_id: str) -> None:
    """Raise the flag for workers running a stage of this job."""
    try:
        quick_client().set(_key(job_id), 1, ex=FLAG_TTL_S)
    except redis.RedisError as exc:
        log.warning("cancel flag for job %s not set (workers see it at heartbeat): %s", job_id, exc)


def clear_cancel(job_id: str) -> None:
    """Lower the flag (the job is being retried)."""
    try:
        quick_client().delete(_key(job_id))
    except redis.RedisError as exc:
        log.warning("cancel flag for job %s not cleared: %s", job_id, exc)


def cancel_requested(job_id: str) -> bool:
    """True if the flag is up; False when it is down or Redis cannot say."""
    try:
        return bool(quick_client().exists(_key(job_id)))
    except redis.RedisError:
        return False
