"""/api/v1/stats for operators: success rate, durations, queue waits and throughput, from Postgres.

Figures cover jobs that finished in the last hour and the last day; each query
reads a range of the `finished_at` index (then stages by their job's key) under
a statement timeout, and answers are cached for a few seconds per process.
Admin users only: others get 403.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import case, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from config import get_settings
from tasks.db import db
from tasks.flower_labels import flower_task_url, stage_task_ids
from tasks.models import Job, JobStage, User
from tasks.pipelines import stages_of
from tasks.queue_depths import queue_depths
from tasks.states import FINAL
from webapp.auth import current_user, require_api_key
from webapp.errors import ApiError

log = logging.getLogger(__name__)

bp = Blueprint("stats", __name__, url_prefix="/api/v1")

WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1)}
"""The periods the figures cover."""

CACHE_S = 5.0
"""How long one process reuses its answer."""

STATEMENT_TIMEOUT_MS = 5000
"""A stats query that runs longer is stopped (the endpoint then answers 503)."""

_cache: tuple[float, dict[str, Any]] | None = None
_cache_lock = threading.Lock()


def require_admin() -> User:
    """The calling user if they are an admin; else 403."""
    user = current_user()
    if not user.is_admin:
        raise ApiError(403, "forbidden", "only operators (admin users) may see this")
    return user


@bp.get("/stats")
@require_api_key
def stats() -> Response:
    """Service figures for the last hour and day, queues now, and jobs in flight.

    Response: {"windows": {"1h": {"completed": 40, "failed": 2, "canceled": 1,
                 "success_rate": 0.952, "throughput_per_min": 0.67,
                 "kinds": [{"kind": "image", "completed": 40, ..., "duration_s": {"p50": 9.1,
                            "p95": 20.4}, "queue_wait_s": {"p50": 0.4, "p95": 3.0}}],
                 "stages": [{"kind": "image", "stage": "generate", "count": 40,
                             "duration_s": {...}, "queue_wait_s": {...}}]}, "24h": {...}},
               "queues": [{"queue": "generate", "lanes": {"high": 0, "default": 3, "low": 0},
                           "total": 3, "oldest_age_s": 12.5}],
               "in_flight": [{"lane": "default", "tier": "standard", "jobs": 4}],
               "flower_url": "http://127.0.0.1:5555", "generated_at": "2026-..."}
    """
    require_admin()
    global _cache
    with _cache_lock:
        if _cache is not None and time.monotonic() - _cache[0] < CACHE_S:
            return jsonify(_cache[1])
    body = _gather()
    with _cache_lock:
        _cache = (time.monotonic(), body)
    return jsonify(body)


def _gather() -> dict[str, Any]:
    db.session.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
    windows = {name: _window(span) for name, span in WINDOWS.items()}
    in_flight = jobs_in_flight()
    db.session.commit()
    try:
        queues: list[dict[str, Any]] | None = [
            {**asdict(depth), "total": depth.total} for depth in queue_depths()
        ]
    except Exception as exc:  # noqa: BLE001 - the broker being down is itself worth showing
        log.warning("queue depths unavailable: %s", exc)
        queues = None
    return {
        "windows": windows,
        "queues": queues,
        "in_flight": in_flight,
        "flower_url": get_settings().flower_url,
        "generated_at": datetime.now(UTC).isoformat(),
    }


def _percentiles(seconds: ColumnElement[Any]) -> tuple[ColumnElement[Any], ...]:
    return tuple(func.percentile_cont(p).within_group(seconds) for p in (0.5, 0.95))


def _window(span: timedelta) -> dict[str, Any]:
    since = func.now() - span
    ran_s = func.extract("epoch", Job.finished_at - Job.started_at)
    waited_s = func.extract("epoch", Job.started_at - Job.created_at)
    rows = db.session.execute(
        select(Job.kind, Job.status, func.count(), *_percentiles(ran_s), *_percentiles(waited_s))
        .where(Job.finished_at > since, Job.status.in_(FINAL))
        .group_by(Job.kind, Job.status)
    ).all()
    kinds: dict[str, dict[str, Any]] = {}
    for kind, status, count, ran50, ran95, wait50, wait95 in rows:
        entry = kinds.setdefault(kind, {"kind": kind, "completed": 0, "failed": 0, "canceled": 0})
        entry[status] = count
        if status == "completed":
            entry["duration_s"] = _pair(ran50, ran95)
            entry["queue_wait_s"] = _pair(wait50, wait95)
    for entry in kinds.values():
        entry["success_rate"] = _rate(entry["completed"], entry["failed"])
    totals = {s: sum(e[s] for e in kinds.values()) for s in ("completed", "failed", "canceled")}
    return {
        **totals,
        "success_rate": _rate(totals["completed"], totals["failed"]),
        "throughput_per_min": round(totals["completed"] / (span.total_seconds() / 60), 3),
        "kinds": sorted(kinds.values(), key=lambda e: e["kind"]),
        "stages": _stages(since),
    }


def _stages(since: ColumnElement[Any]) -> list[dict[str, Any]]:
    ran_s = func.extract("epoch", JobStage.finished_at - JobStage.started_at)
    waited_s = case(
        (
            JobStage.enqueued_at <= JobStage.started_at,
            func.extract("epoch", JobStage.started_at - JobStage.enqueued_at),
        )
    )
    rows = db.session.execute(
        select(Job.kind, JobStage.name, func.count(), *_percentiles(ran_s), *_percentiles(waited_s))
        .join(JobStage, JobStage.job_id == Job.id)
        .where(Job.finished_at > since, Job.status.in_(FINAL), JobStage.status == "completed")
        .group_by(Job.kind, JobStage.name)
    ).all()
    order = {(kind, s.name): i for kind, *_ in rows for i, s in enumerate(stages_of(kind))}
    return [
        {
            "kind": kind,
            "stage": name,
            "count": count,
            "duration_s": _pair(ran50, ran95),
            "queue_wait_s": _pair(wait50, wait95),
        }
        for kind, name, count, ran50, ran95, wait50, wait95 in sorted(
            rows, key=lambda r: (r[0], order.get((r[0], r[1]), 99))
        )
    ]


def jobs_in_flight() -> list[dict[str, Any]]:
    """Processing jobs per lane and tier (reads the partial index of processing jobs)."""
    rows = db.session.execute(
        select(Job.priority, User.tier, func.count())
        .join(User, User.id == Job.user_id)
        .where(Job.status == "processing")
        .group_by(Job.priority, User.tier)
    ).all()
    return [{"lane": lane, "tier": tier, "jobs": count} for lane, tier, count in rows]


def _pair(p50: float | None, p95: float | None) -> dict[str, float | None]:
    return {"p50": _round(p50), "p95": _round(p95)}


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def _rate(completed: int, failed: int) -> float | None:
    return round(completed / (completed + failed), 4) if completed + failed else None


def with_operator_fields(job: Job, body: dict[str, Any]) -> dict[str, Any]:
    """Add `flower_url` (the job's latest stage task in Flower) to a job's JSON, for admins only."""
    if not current_user().is_admin:
        return body
    task_ids = stage_task_ids(job.id)
    names = [stage.name for stage in stages_of(job.kind)]
    latest = job.stage if job.stage in task_ids else None
    latest = latest or next((n for n in reversed(names) if n in task_ids), None)
    body["flower_url"] = flower_task_url(task_ids[latest]) if latest else None
    return body
