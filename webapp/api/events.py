"""/api/v1/jobs/{id}/events: a job's events as Server-Sent Events, resumable by event id."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from sqlalchemy import select

from config import get_settings
from tasks.db import db
from tasks.eta import eta_seconds, expected_run_s
from tasks.models import JobEvent
from tasks.states import FINAL
from webapp.api.jobs import own_job
from webapp.auth import require_api_key
from webapp.errors import ApiError
from webapp.live import RESYNC, event_hub
from webapp.queue_places import queue_places

bp = Blueprint("events", __name__, url_prefix="/api/v1/jobs")


@bp.get("/<job_id>/events")
@require_api_key
def stream_events(job_id: str) -> Response:
    """Stream the job's events; with Last-Event-ID, exactly those after it. Ends on a final status.

    Response: text/event-stream
        id: 3
        event: stage
        data: {"status": "processing", "stage": "generate", "progress": 12, "message": "...",
               "eta_seconds": 9}
    """
    job = own_job(job_id)
    after = _last_event_id()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if job.status in FINAL and after >= job.last_seq:
        stream: Iterator[str] = iter(["retry: 2000\n\n"])  # the client has it all: end now
    else:
        stream = _stream(app, job.id, job.kind, after, expected_run_s(job.kind, job.input))
    return Response(
        stream,
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _last_event_id() -> int:
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_event_id") or "0"
    if not raw.isdigit():
        raise ApiError(
            422, "invalid_field", "Last-Event-ID must be an event id", field="Last-Event-ID"
        )
    return int(raw)


def _stream(
    app: Flask, job_id: str, kind: str, after: int, expected_s: float | None
) -> Iterator[str]:
    settings = get_settings()
    wait_s = min(settings.sse_heartbeat_s, settings.sse_queue_refresh_s)
    # Listen first, then read Postgres: nothing falls between the two (duplicates are skipped).
    with event_hub().listen(job_id) as inbox:
        last, shown_place, next_place_check = after, None, 0.0
        yield "retry: 2000\n\n"
        incoming = _events_after(app, job_id, last)
        while True:
            ready, gap = _in_order(incoming, last)
            for event in ready:
                yield _format(app, kind, event, expected_s)
                last = event["seq"]
                if event["type"] == "status" and event["data"]["status"] in FINAL:
                    return
            if gap:  # pub/sub dropped something: read it from Postgres
                incoming = _events_after(app, job_id, last)
                if incoming and incoming[0]["seq"] > last + 1:
                    last = incoming[0]["seq"] - 1  # Postgres lacks it too (trimmed): skip ahead
                continue
            if time.monotonic() >= next_place_check:
                next_place_check = time.monotonic() + settings.sse_queue_refresh_s
                place = queue_places().place(app, job_id)
                if place is not None and place != shown_place:
                    shown_place = place
                    yield _message("queue", {"queue_position": place[0], "eta_seconds": place[1]})
            try:
                item = inbox.get(timeout=wait_s)
            except queue.Empty:
                yield ": keep-alive\n\n"
                incoming = []
                continue
            incoming = _events_after(app, job_id, last) if item == RESYNC else [item]


def _in_order(events: list[dict[str, Any]], last: int) -> tuple[list[dict[str, Any]], bool]:
    """The events that follow `last` without a hole, and whether a hole came after them."""
    ready: list[dict[str, Any]] = []
    for event in sorted(events, key=lambda e: int(e["seq"])):
        if event["seq"] <= last:
            continue  # already sent
        if event["seq"] > last + 1:
            return ready, True
        ready.append(event)
        last = event["seq"]
    return ready, False


def _events_after(app: Flask, job_id: str, seq: int) -> list[dict[str, Any]]:
    with app.app_context():
        rows = db.session.execute(
            select(JobEvent.seq, JobEvent.type, JobEvent.data)
            .where(JobEvent.job_id == job_id, JobEvent.seq > seq)
            .order_by(JobEvent.seq)
        ).all()
    return [{"seq": row.seq, "type": row.type, "data": row.data} for row in rows]


def _format(app: Flask, kind: str, event: dict[str, Any], expected_s: float | None) -> str:
    data = dict(event["data"])
    data["eta_seconds"] = None
    if data.get("status") == "processing":
        with app.app_context():
            data["eta_seconds"] = eta_seconds(
                kind, "processing", int(data.get("progress") or 0), None, expected_s=expected_s
            )
    return f"id: {event['seq']}\n" + _message(event["type"], data)


def _message(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
