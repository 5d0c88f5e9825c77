"""Estimated time to completion, from measured stage durations and recent throughput.

Figures come from the most recent completed stages and jobs, and are cached per
process for a few seconds, so answering a status read costs no extra query.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from tasks.db import db
from tasks.models import Job, JobStage
from tasks.pipelines import ESTIMATORS, PIPELINES

RECENT_STAGES = 2000
"""How many of the latest completed stages the averages come from."""

THROUGHPUT_WINDOW_S = 600
"""Completed jobs per second are counted over this window."""

CACHE_S = 10.0
"""How long one process reuses the figures."""


@dataclass(frozen=True)
class Measurements:
    """Mean seconds per (kind, stage), and jobs completed per second lately."""

    stage_s: dict[tuple[str, str], float] = field(default_factory=dict)
    jobs_per_s: float = 0.0
    taken_at: float = 0.0


_lock = threading.Lock()
_cached = Measurements()
_refreshing = False


def measurements() -> Measurements:
    """The current figures (refreshed at most every CACHE_S, by one caller at a time)."""
    global _refreshing
    with _lock:
        fresh = time.monotonic() - _cached.taken_at < CACHE_S
        # While one caller refreshes, the others keep the previous figures: a thousand
        # open streams must not all run the same two queries when the cache expires.
        if fresh or (_refreshing and _cached.taken_at):
            return _cached
        _refreshing = True
    try:
        return _measure()
    finally:
        with _lock:
            _refreshing = False


def _measure() -> Measurements:
    global _cached
    recent = (
        select(JobStage.job_id, JobStage.name, JobStage.started_at, JobStage.finished_at)
        .where(JobStage.status == "completed")
        .order_by(JobStage.id.desc())
        .limit(RECENT_STAGES)
        .subquery()
    )
    seconds = func.extract("epoch", recent.c.finished_at - recent.c.started_at)
    rows = db.session.execute(
        select(Job.kind, recent.c.name, func.avg(seconds))
        .join(recent, recent.c.job_id == Job.id)
        .group_by(Job.kind, recent.c.name)
    ).all()
    window_start = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, THROUGHPUT_WINDOW_S)
    done = db.session.execute(
        select(func.count())
        .select_from(Job)
        .where(Job.status == "completed", Job.finished_at > window_start)
    ).scalar_one()
    fresh = Measurements(
        stage_s={(kind, name): float(mean) for kind, name, mean in rows},
        jobs_per_s=done / THROUGHPUT_WINDOW_S,
        taken_at=time.monotonic(),
    )
    with _lock:
        _cached = fresh
    return fresh


def eta_seconds(
    kind: str,
    status: str,
    progress: int,
    queue_position: int | None,
    *,
    expected_s: float | None = None,
) -> int | None:
    """Seconds until the job should finish; None when there is nothing to go on.

    `expected_s` is the pipeline's own estimate for this job's input (see
    `expected_run_s`); it wins over the measured means, which know nothing of input size.
    """
    if status not in ("pending", "processing"):
        return None
    figures = measurements()
    total = expected_s if expected_s is not None else _measured_total_s(kind, figures)
    if total is None:
        return None
    if status == "processing":
        return round(total * (100 - progress) / 100)
    if not figures.jobs_per_s:
        return None if expected_s is None else round(total)
    return round((queue_position or 1) / figures.jobs_per_s + total)


def _measured_total_s(kind: str, figures: Measurements) -> float | None:
    per_stage = [figures.stage_s.get((kind, stage.name)) for stage in PIPELINES[kind]]
    if any(mean is None for mean in per_stage):
        return None
    return sum(mean for mean in per_stage if mean is not None)


def expected_run_s(kind: str, job_input: dict[str, Any]) -> float | None:
    """A pipeline's up-front estimate of its run time for this input, if it makes one."""
    estimate = ESTIMATORS.get(kind)
    return estimate(job_input) if estimate is not None else None
