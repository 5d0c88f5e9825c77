"""Prometheus metrics of jobs and stages, counted where the facts are committed.

Job counters come from committed job events: an `after_commit` hook reads the
events `tasks.states` queued on the session (the `publish_after_commit`
stream) before they are published, so a rolled-back change is never counted
and the counts match Postgres. Stage timings come from Celery signals, and
failed stage attempts from the stage row's `error` as it is written. Every
hook catches its own failures: a metric is never worth a failed task or request.

Workers serve these on WORKER_METRICS_PORT; the web app serves its own, and
gauges read live from Postgres and Redis, on /metrics (`webapp.api.metrics`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from celery import signals
from prometheus_client import Counter, Histogram, start_http_server
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from config import get_settings
from tasks.errors import GenerationError
from tasks.live_events import _QUEUED as QUEUED_EVENTS
from tasks.models import Job
from tasks.pipelines import KINDS
from tasks.signals import stage_attempt_failed
from tasks.states import FINAL

log = logging.getLogger(__name__)

STAGE_TASK_PREFIX = "stage."
"""Stage tasks are named `stage.<name>` and take `(job_id, expected_attempts)`."""

SENT_AT_HEADER = "genjobs_sent_at"
"""Message header: when the message was published (epoch seconds), for queue wait times."""

JOBS_SUBMITTED = Counter("genjobs_jobs_submitted", "Jobs created, by kind.", ["kind"])
JOBS_FINISHED = Counter(
    "genjobs_jobs_finished",
    "Jobs that reached a final status (completed, failed, canceled), by kind.",
    ["kind", "status"],
)
JOBS_RETRIED = Counter(
    "genjobs_jobs_retried", "Failed or canceled jobs sent back to pending.", ["kind"]
)
STAGE_DURATION = Histogram(
    "genjobs_stage_duration_seconds",
    "Wall time of one stage attempt that ran (duplicate deliveries excluded).",
    ["kind", "stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200),
)
QUEUE_WAIT = Histogram(
    "genjobs_queue_wait_seconds",
    "Time a stage message waited in its queue: from publish (or its countdown) to start.",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
STAGE_ERRORS = Counter(
    "genjobs_stage_errors",
    "Failed stage attempts by error class (provider errors, WorkerLost, InternalError).",
    ["stage", "error_class"],
)
WEBHOOK_DELIVERIES = Counter(
    "genjobs_webhook_deliveries",
    "Webhook deliveries by outcome (stays 0 until webhooks are delivered).",
    ["outcome"],
)
# Every known series starts at 0, so dashboards and rate() see it before the first event.
for _outcome in ("delivered", "failed", "refused"):
    WEBHOOK_DELIVERIES.labels(_outcome)
for _kind in KINDS:
    JOBS_SUBMITTED.labels(_kind)
    JOBS_RETRIED.labels(_kind)
    for _status in sorted(FINAL):
        JOBS_FINISHED.labels(_kind, _status)

_KINDS_KEPT = 20000
_kinds: OrderedDict[str, str] = OrderedDict()
_kinds_lock = threading.Lock()
_ERRORS_KEY = "genjobs_stage_errors_to_count"


@dataclass
class _StageRun:
    job_id: str
    stage: str
    started: float
    ran: bool = False


_current_run: ContextVar[_StageRun | None] = ContextVar("genjobs_stage_run", default=None)


def remember_kind(job_id: str | None, kind: str | None) -> None:
    """Note a job's kind, so counting its events needs no query."""
    if not job_id or not kind:
        return
    with _kinds_lock:
        _kinds[job_id] = kind
        _kinds.move_to_end(job_id)
        while len(_kinds) > _KINDS_KEPT:
            _kinds.popitem(last=False)


def job_kinds(session: Session, job_ids: Iterable[str]) -> dict[str, str]:
    """job id -> kind, from memory, else one query on a connection of its own."""
    wanted = set(job_ids)
    with _kinds_lock:
        found = {job_id: _kinds[job_id] for job_id in wanted if job_id in _kinds}
    missing = wanted - set(found)
    if missing:
        # A connection of its own: the session may be between transactions (after_commit).
        with session.get_bind().engine.connect() as connection:
            rows = connection.execute(select(Job.id, Job.kind).where(Job.id.in_(missing)))
            for job_id, kind in rows:
                remember_kind(job_id, kind)
                found[job_id] = kind
    return found


@event.listens_for(Job, "init")
def _job_created(target: Job, args: Any, kwargs: dict[str, Any]) -> None:
    remember_kind(kwargs.get("id"), kwargs.get("kind"))


@event.listens_for(Job, "load")
def _job_loaded(target: Job, context: Any) -> None:
    remember_kind(target.id, target.__dict__.get("kind"))


def count_events(session: Session, events: list[dict[str, Any]]) -> None:
    """Count committed status events: creations, final statuses and retries, by kind."""
    run = _current_run.get()
    if run is not None and any(e["job_id"] == run.job_id for e in events):
        run.ran = True
    status_events = [e for e in events if e["type"] == "status"]
    if not status_events:
        return
    kinds = job_kinds(session, {e["job_id"] for e in status_events})
    for each in status_events:
        kind, status = kinds.get(each["job_id"], "unknown"), each["data"].get("status")
        if status == "pending":
            (JOBS_SUBMITTED if each["seq"] == 1 else JOBS_RETRIED).labels(kind).inc()
        elif status in ("completed", "failed", "canceled"):
            JOBS_FINISHED.labels(kind, status).inc()


def _after_commit(session: Session) -> None:
    errors = session.info.pop(_ERRORS_KEY, [])
    try:
        for stage, error_class in errors:
            STAGE_ERRORS.labels(stage, error_class).inc()
        queued = session.info.get(QUEUED_EVENTS) or []
        count_events(session, [json.loads(message) for message in queued])
    except Exception:  # noqa: BLE001 - a metric must never fail a commit
        log.warning("job metrics not counted", exc_info=True)


# First in line: the live-events hook empties the queue of events when it publishes them.
event.listen(Session, "after_commit", _after_commit, insert=True)


@event.listens_for(Session, "after_rollback")
def _forget_errors(session: Session) -> None:
    session.info.pop(_ERRORS_KEY, None)


@stage_attempt_failed.connect
def _note_stage_error(session: Session, *, stage: str, error: GenerationError) -> None:
    """A failed stage attempt is counted once its transaction commits."""
    try:
        session.info.setdefault(_ERRORS_KEY, []).append((stage, type(error).__name__))
    except Exception:  # noqa: BLE001
        log.warning("stage error not counted", exc_info=True)


@signals.before_task_publish.connect
def _stamp_sent_at(headers: dict[str, Any] | None = None, **_: object) -> None:
    if headers is not None:
        headers[SENT_AT_HEADER] = time.time()


@signals.task_prerun.connect
def _stage_started(task: Any = None, args: Any = (), **_: object) -> None:
    try:
        name = getattr(task, "name", "") or ""
        if not name.startswith(STAGE_TASK_PREFIX) or not args:
            return
        now, request = time.time(), task.request
        sent_at = request.get(SENT_AT_HEADER)
        if isinstance(sent_at, int | float):
            queue = (request.delivery_info or {}).get("routing_key") or "unknown"
            QUEUE_WAIT.labels(queue).observe(max(0.0, now - max(sent_at, _eta(request.eta))))
        _current_run.set(_StageRun(str(args[0]), name.removeprefix(STAGE_TASK_PREFIX), now))
    except Exception:  # noqa: BLE001
        log.warning("stage start not measured", exc_info=True)


def _eta(raw: object) -> float:
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw).timestamp()
        except ValueError:
            return 0.0
    return 0.0


@signals.task_postrun.connect
def _stage_finished(**_: object) -> None:
    run = _current_run.get()
    _current_run.set(None)
    if run is None or not run.ran:
        return  # a duplicate delivery, or a finished job: nothing ran
    try:
        with _kinds_lock:
            kind = _kinds.get(run.job_id, "unknown")
        STAGE_DURATION.labels(kind, run.stage).observe(time.time() - run.started)
    except Exception:  # noqa: BLE001
        log.warning("stage duration not recorded", exc_info=True)


@signals.worker_ready.connect
def _serve_worker_metrics(**_: object) -> None:
    """A worker process serves its metrics on WORKER_METRICS_PORT (0: not at all)."""
    port = get_settings().worker_metrics_port
    if not port:
        return
    try:
        start_http_server(port, addr=get_settings().host)
        log.info("worker metrics on http://%s:%s/metrics", get_settings().host, port)
    except OSError as exc:
        log.warning(
            "worker metrics not served: port %s is taken (give each worker its own "
            "WORKER_METRICS_PORT): %s",
            port,
            exc,
        )
