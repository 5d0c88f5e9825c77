"""/api/v1/webhooks: the caller's default webhook and signing secret; a job's delivery log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from config import get_settings
from tasks.db import db
from tasks.webhook_accounts import (
    clear_default_webhook,
    ensure_account,
    rotate_secret,
    set_default_webhook,
)
from tasks.webhook_models import WebhookAccount, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webapp.api.jobs import own_job
from webapp.api.schemas import WebhookRequest, checked_webhook, json_body, validate
from webapp.api.serialize import iso
from webapp.auth import current_user, require_api_key
from webapp.errors import ApiError

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1")

LOG_LIMIT = 200
"""The most deliveries one job's log lists (a job causes a handful)."""


@bp.put("/webhooks/default")
@require_api_key
def put_default() -> Response:
    """Send the events of jobs submitted without a webhook of their own to this URL.

    Request:  {"url": "https://example.com/hooks", "events": ["job.completed", "job.failed"]}
    Response: {"url": "https://example.com/hooks", "events": [...], "disabled_at": null}
    """
    spec = checked_webhook(validate(WebhookRequest, json_body()))
    set_default_webhook(current_user().id, spec)
    db.session.commit()
    return jsonify(_default_json())


@bp.get("/webhooks/default")
@require_api_key
def get_default() -> Response:
    """The caller's default webhook; 404 if none is set.

    Response: {"url": "https://example.com/hooks", "events": [...], "disabled_at": null}
    """
    return jsonify(_default_json())


@bp.delete("/webhooks/default")
@require_api_key
def delete_default() -> tuple[str, int]:
    """Stop sending events of new jobs to the default webhook (jobs already sent keep theirs).

    Response: 204
    """
    clear_default_webhook(current_user().id)
    db.session.commit()
    return "", 204


@bp.get("/webhooks/default/secret")
@require_api_key
def get_secret() -> Response:
    """The caller's signing secret (created on first read).

    Response: {"key": "whsec_..."}
    """
    account = ensure_account(current_user().id)
    db.session.commit()
    return jsonify(key=account.secret)


@bp.post("/webhooks/default/secret/rotate")
@require_api_key
def rotate() -> Response:
    """Make a new signing secret; the old one also signs until `previous_key_expires_at`.

    Response: {"key": "whsec_...", "previous_key_expires_at": "2026-11-24T14:00:00+00:00"}
    """
    account = rotate_secret(current_user().id, get_settings().webhooks.secret_grace_s)
    db.session.commit()
    return jsonify(
        key=account.secret, previous_key_expires_at=iso(account.previous_secret_expires_at)
    )


@bp.get("/jobs/<job_id>/webhooks")
@require_api_key
def delivery_log(job_id: str) -> Response:
    """The job's webhook deliveries, oldest first, each with its attempts.

    Response: {"data": [{"id": "msg_...", "event": "job.completed", "status": "delivered",
               "url": "...", "attempts": [{"attempt": 1, "status_code": 200, "latency_ms": 12,
               "error": null, "next_attempt_at": null, "at": "..."}], ...}]}
    """
    job = own_job(job_id)
    deliveries = db.session.execute(
        select(WebhookDelivery, WebhookEndpoint.url)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(WebhookDelivery.job_id == job.id)
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        .limit(LOG_LIMIT)
    ).all()
    attempts: dict[str, list[dict[str, Any]]] = {}
    if deliveries:
        rows = db.session.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_([d.id for d, _ in deliveries]))
            .order_by(WebhookAttempt.attempt)
        ).scalars()
        for row in rows:
            attempts.setdefault(row.delivery_id, []).append(_attempt_json(row))
    return jsonify(
        data=[
            {
                "id": delivery.id,
                "event": delivery.event,
                "status": delivery.status,
                "url": url,
                "attempts": attempts.get(delivery.id, []),
                "next_attempt_at": iso(delivery.next_attempt_at)
                if delivery.status == "pending"
                else None,
                "created_at": iso(delivery.created_at),
                "finished_at": iso(delivery.finished_at),
            }
            for delivery, url in deliveries
        ]
    )


def _attempt_json(row: WebhookAttempt) -> dict[str, Any]:
    return {
        "attempt": row.attempt,
        "status_code": row.status_code,
        "latency_ms": row.latency_ms,
        "error": row.error,
        "next_attempt_at": iso(row.next_attempt_at),
        "at": iso(row.created_at),
    }


def _default_json() -> dict[str, Any]:
    row = db.session.execute(
        select(
            WebhookEndpoint.url,
            WebhookAccount.default_events,
            WebhookEndpoint.disabled_at,
            WebhookEndpoint.disabled_reason,
        )
        .join(WebhookAccount, WebhookAccount.default_endpoint_id == WebhookEndpoint.id)
        .where(WebhookAccount.user_id == current_user().id)
    ).first()
    if row is None:
        raise ApiError(404, "not_found", "no default webhook is set (PUT one first)")
    return {
        "url": row.url,
        "events": row.default_events,
        # Set when the receiver answered 410 Gone; PUT the URL again to switch it back on.
        "disabled_at": iso(row.disabled_at),
        "disabled_reason": row.disabled_reason,
    }
