"""Queue places of the pending jobs a web process streams, computed for all of them at once.

Every open stream of a pending job shows its queue place and ETA, refreshed
every SSE_QUEUE_REFRESH_S. Asked per stream, that was one job read and one
count per stream per refresh (1,000 streams: 200 queries a second in one
process). Here one ranked query per refresh answers for every watched job;
a job first seen between refreshes is counted alone once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection

from flask import Flask
from sqlalchemy import func, select

from config import get_settings
from tasks.db import db
from tasks.eta import eta_seconds, expected_run_s
from tasks.models import Job
from tasks.pipelines import ESTIMATORS
from tasks.states import PENDING
from webapp.api.serialize import LANE_RANK, queue_position
from webapp.live import event_hub

Place = tuple[int | None, int | None]
"""(queue position, eta seconds) of a pending job."""


class QueuePlaces:
    """A per-process cache: job id -> its place, for the pending jobs among those watched."""

    def __init__(self, refresh_s: float, watched: Callable[[], Collection[str]]) -> None:
        self._refresh_s, self._watched = refresh_s, watched
        self._places: dict[str, Place] = {}
        self._covered: frozenset[str] = frozenset()
        self._taken_at = float("-inf")
        self._lock = threading.Lock()

    def place(self, app: Flask, job_id: str) -> Place | None:
        """The job's (queue position, eta) while it is pending, else None."""
        due = time.monotonic() - self._taken_at >= self._refresh_s
        if job_id in self._covered and (not due or self._lock.locked()):
            return self._places.get(job_id)  # fresh, or being refreshed: take what we have
        with self._lock:
            if time.monotonic() - self._taken_at >= self._refresh_s:
                self._refresh(app)
            elif job_id not in self._covered:
                places = _places_of(app, [job_id])
                self._places = {**self._places, **places}
                self._covered = self._covered | {job_id}
            return self._places.get(job_id)

    def _refresh(self, app: Flask) -> None:
        watched = list(self._watched())
        self._places = _places_of(app, watched)  # replaced whole: readers never see a half
        self._covered = frozenset(watched)
        self._taken_at = time.monotonic()


def _places_of(app: Flask, job_ids: list[str]) -> dict[str, Place]:
    """Places of those of these jobs that are pending: one query for the admitted ones."""
    if not job_ids:
        return {}
    places: dict[str, Place] = {}
    with app.app_context():
        # rank() over every admitted pending job = 1 + how many come before it
        # (an earlier lane, or the same lane and older), as `queue_position` counts.
        ranked = (
            select(
                Job.id,
                Job.kind,
                func.rank().over(order_by=(LANE_RANK, Job.created_at)).label("place"),
            )
            .where(Job.status == PENDING, Job.admitted_at.is_not(None))
            .subquery()
        )
        rows = db.session.execute(
            select(ranked.c.id, ranked.c.kind, ranked.c.place).where(ranked.c.id.in_(job_ids))
        ).all()
        expected = _expected_run_s([job_id for job_id, kind, _ in rows if kind in ESTIMATORS])
        for job_id, kind, place in rows:
            eta = eta_seconds(kind, PENDING, 0, int(place), expected_s=expected.get(job_id))
            places[job_id] = (int(place), eta)
        # Jobs still waiting for admission are few; count theirs one by one.
        rest = [job_id for job_id in job_ids if job_id not in places]
        if not rest:
            return places
        waiting = db.session.execute(
            select(Job).where(Job.id.in_(rest), Job.status == PENDING, Job.admitted_at.is_(None))
        ).scalars()
        for job in waiting:
            position = queue_position(job)
            expected_s = expected_run_s(job.kind, job.input)
            eta = eta_seconds(job.kind, PENDING, job.progress, position, expected_s=expected_s)
            places[job.id] = (position, eta)
    return places


def _expected_run_s(job_ids: list[str]) -> dict[str, float | None]:
    """Up-front run-time estimates of jobs whose kind makes them from the input (scripts)."""
    if not job_ids:
        return {}
    rows = db.session.execute(select(Job.id, Job.kind, Job.input).where(Job.id.in_(job_ids)))
    return {job_id: expected_run_s(kind, job_input) for job_id, kind, job_input in rows}


_cache: QueuePlaces | None = None
_cache_lock = threading.Lock()


def queue_places() -> QueuePlaces:
    """This process's cache, covering the jobs its event hub has streams for."""
    global _cache
    with _cache_lock:
        if _cache is None:
            _cache = QueuePlaces(
                get_settings().sse_queue_refresh_s, lambda: event_hub().watched_jobs()
            )
        return _cache
