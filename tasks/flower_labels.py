"""Flower shows each stage task with its job: id, kind, stage and attempt, and the job links back.

Stage messages carry only `(job_id, expected_attempts)`. Before one is
published, its `kwargsrepr` header (what Flower shows as kwargs, and searches
with `kwargs:job_id=...`) is set to a label naming the job; after it is
published, its task id is kept in Redis under the job, so the operators' job
JSON can link to the task in Flower.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import signals

from config import get_settings
from tasks.db import db
from tasks.metrics import STAGE_TASK_PREFIX, job_kinds
from tasks.redis_clients import key, quick_client

log = logging.getLogger(__name__)

TASK_IDS_TTL_S = 30 * 24 * 3600
"""How long a job's stage task ids are kept for Flower links."""


def _task_ids_key(job_id: str) -> str:
    return key(f"genjobs:flower-tasks:{job_id}")


def _stage_args(sender: object, body: Any) -> tuple[str, str, int] | None:
    """(job id, stage, expected attempts) of a stage message, else None."""
    if not isinstance(sender, str) or not sender.startswith(STAGE_TASK_PREFIX):
        return None
    args = body[0] if isinstance(body, tuple | list) and body else None
    if not args or len(args) < 2:
        return None
    return str(args[0]), sender.removeprefix(STAGE_TASK_PREFIX), int(args[1])


@signals.before_task_publish.connect
def _label_stage_message(
    sender: object = None, body: Any = None, headers: dict[str, Any] | None = None, **_: object
) -> None:
    try:
        found = _stage_args(sender, body)
        if found is None or headers is None:
            return
        job_id, stage, expected = found
        kind = job_kinds(db.session(), [job_id]).get(job_id, "unknown")
        label = {"job_id": job_id, "kind": kind, "stage": stage, "attempt": expected + 1}
        headers["kwargsrepr"] = repr(label)
    except Exception:  # noqa: BLE001 - a label is never worth a lost message
        log.warning("stage message not labelled for Flower", exc_info=True)


@signals.after_task_publish.connect
def _keep_task_id(
    sender: object = None, body: Any = None, headers: dict[str, Any] | None = None, **_: object
) -> None:
    try:
        found = _stage_args(sender, body)
        if found is None or not headers or "id" not in headers:
            return
        job_id, stage, _expected = found
        pipe = quick_client().pipeline(transaction=False)
        pipe.hset(_task_ids_key(job_id), stage, headers["id"])
        pipe.expire(_task_ids_key(job_id), TASK_IDS_TTL_S)
        pipe.execute()
    except (redis.RedisError, ValueError, TypeError) as exc:
        log.warning("task id for Flower not kept: %s", exc)


def stage_task_ids(job_id: str) -> dict[str, str]:
    """stage -> the id of its latest task (for Flower); empty when unknown or Redis is down."""
    try:
        raw = quick_client().hgetall(_task_ids_key(job_id))
    except redis.RedisError as exc:
        log.warning("task ids for Flower not read: %s", exc)
        return {}
    return {_text(stage): _text(task_id) for stage, task_id in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def flower_task_url(task_id: str) -> str:
    """Flower's page of one task."""
    return f"{get_settings().flower_url.rstrip('/')}/task/{task_id}"


def forget_task_ids(job_ids: list[str]) -> None:
    """Drop the Flower links of deleted jobs."""
    if not job_ids:
        return
    try:
        quick_client().delete(*(_task_ids_key(job_id) for job_id in job_ids))
    except redis.RedisError as exc:
        log.warning("Flower links of %s deleted jobs not dropped: %s", len(job_ids), exc)
