"""The webhook outbox: delivery rows written with the job event that causes them, sent after commit.

`tasks.states` calls `queue_webhook` for every job write whose job has a webhook
(the UPDATE it already runs returns the job's `webhook`; jobs without one pay
nothing). The delivery row is inserted in the caller's transaction, so it
commits or rolls back with the event; once committed, an `after_commit` hook
sends one `webhooks.deliver` message per row on the `webhooks` queue. A send
that fails is logged; the beat sweep (`maintenance.send_due_webhooks`) sends
what is still due, so a crash between commit and send loses nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from celery import current_app as current_celery_app
from flask import current_app, has_app_context
from sqlalchemy import event, func, insert, literal, select
from sqlalchemy.orm import Session

from tasks.db import db
from tasks.webhook_models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

EVENTS = ("job.stage", "job.completed", "job.failed", "job.canceled")
"""Webhook event types: a job entered processing or moved to another stage; it finished."""

DELIVER_TASK = "webhooks.deliver"
"""The Celery task that makes one delivery attempt; it takes the delivery id."""

WEBHOOK_QUEUE = "webhooks"
"""The queue delivery tasks run on, apart from the stages."""

_QUEUED = "genjobs_webhooks_to_send"


def webhook_event(
    event_type: str, status: str, stage: str | None, stage_before: str | None
) -> str | None:
    """The webhook event a job write is, if any (progress-only writes are none)."""
    if event_type == "status":
        if status == "processing":
            return "job.stage"  # started, or resumed after a retry
        if status in ("completed", "failed", "canceled"):
            return f"job.{status}"
        return None
    if status == "processing" and stage != stage_before:
        return "job.stage"
    return None


def queue_webhook(
    job_id: str, webhook: dict[str, Any], event_name: str, data: dict[str, Any]
) -> str | None:
    """Insert a delivery of this event if the job's webhook wants it and its endpoint is on."""
    if event_name not in webhook.get("events", EVENTS):
        return None
    delivery_id = f"msg_{uuid.uuid4().hex}"
    payload = json.dumps(
        {"type": event_name, "timestamp": datetime.now(UTC).isoformat(), "data": data},
        separators=(",", ":"),
    )
    # INSERT ... SELECT: no row when the endpoint was switched off (a 410), in one statement.
    source = select(
        literal(delivery_id),
        literal(job_id),
        WebhookEndpoint.id,
        literal(event_name),
        literal(payload),
        literal("pending"),
        literal(0),
        func.now(),
    ).where(WebhookEndpoint.id == webhook["endpoint_id"], WebhookEndpoint.disabled_at.is_(None))
    columns = ["id", "job_id", "endpoint_id", "event", "payload", "status", "attempts"]
    inserted = db.session.execute(
        insert(WebhookDelivery)
        .from_select([*columns, "next_attempt_at"], source)
        .returning(WebhookDelivery.id)
    ).scalar_one_or_none()
    if inserted is not None:
        db.session().info.setdefault(_QUEUED, []).append(inserted)
    return inserted


def send_deliveries(delivery_ids: list[str], *, countdown_s: float | None = None) -> int:
    """Publish delivery tasks; returns how many were sent (a failure is logged, never raised)."""
    celery_app = current_app.extensions["celery"] if has_app_context() else current_celery_app
    sent = 0
    for delivery_id in delivery_ids:
        try:
            celery_app.send_task(
                DELIVER_TASK, args=(delivery_id,), queue=WEBHOOK_QUEUE, countdown=countdown_s
            )
        except Exception as exc:  # noqa: BLE001 - the sweep sends it later
            log.warning("webhook delivery %s not sent (the sweep will): %s", delivery_id, exc)
            break  # the broker is down: the rest would fail too
        sent += 1
    return sent


@event.listens_for(Session, "after_commit")
def _send_committed(session: Session) -> None:
    delivery_ids = session.info.pop(_QUEUED, None)
    if delivery_ids:
        send_deliveries(delivery_ids)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_QUEUED, None)
