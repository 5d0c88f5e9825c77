"""Bare worker baseline: a plain Celery app, our `celeryconfig`, three no-op tasks in a chain.

Run with the Procfile's worker flags: `celery -A bench.raw_celery worker ...`.
The first task notes when the run started and the last one when each chain
ended (both in Redis); the middle one does nothing at all.
"""

from __future__ import annotations

import time
from functools import cache

import redis
from celery import Celery, chain
from celery.canvas import Signature
from kombu.entity import Queue

from config import service_urls

RAW_QUEUES = ("raw1", "raw2", "raw3")
"""One queue per task, like one queue per stage."""

celery_app = Celery("bench_raw")
celery_app.config_from_object("celeryconfig")
celery_app.conf.update(
    task_queues=[Queue(name) for name in RAW_QUEUES],  # type: ignore[no-untyped-call]
    task_default_queue=RAW_QUEUES[0],
    task_routes={f"raw.step{i}": {"queue": name} for i, name in enumerate(RAW_QUEUES, 1)},
    beat_schedule={},
)


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(service_urls()[1])


def started_key(run: str) -> str:
    """Redis key: when the first task of a run started (epoch seconds)."""
    return f"bench:raw:{run}:started"


def done_key(run: str) -> str:
    """Redis list: when each chain of a run ended (epoch seconds)."""
    return f"bench:raw:{run}:done"


@celery_app.task(name="raw.step1", ignore_result=True)
def step1(run: str) -> None:
    """First task: note the run's start."""
    _redis().set(started_key(run), time.time(), nx=True)


@celery_app.task(name="raw.step2", ignore_result=True)
def step2() -> None:
    """Middle task: nothing."""


@celery_app.task(name="raw.step3", ignore_result=True)
def step3(run: str) -> None:
    """Last task: note when this chain ended."""
    _redis().rpush(done_key(run), time.time())


def raw_chain(run: str) -> Signature:
    """The three tasks as one chain."""
    return chain(step1.si(run), step2.si(), step3.si(run))
