"""Delivering webhooks: one signed POST per attempt, retried on a schedule, logged per attempt.

A `webhooks.deliver` task claims its delivery row with a conditional UPDATE (due,
still pending) that also pushes `next_attempt_at` past the call's time limit, so a
duplicate message, or the sweep, finds it taken; a worker that dies mid-call
leaves it to the sweep once that lease runs out. Outcomes:

- 2xx: delivered.
- 410 Gone: the endpoint is switched off; this and its other pending deliveries end.
- refused by the SSRF guard (`tasks.webhook_targets`): failed at once.
- anything else (other status, timeout, connection error, DNS failure): retried
  after the next delay of WEBHOOK_RETRY_SCHEDULE_S; failed after the last.

Requests are signed the Standard Webhooks way (`standardwebhooks`): headers
webhook-id (the delivery id, the same on every attempt), webhook-timestamp and
webhook-signature, with one `v1,<base64>` per secret in force (two during a
rotation's grace period).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from celery import shared_task
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from standardwebhooks import Webhook

from config import get_settings
from tasks.db import DATABASE_DOWN, db
from tasks.metrics import WEBHOOK_DELIVERIES
from tasks.webhook_accounts import signing_secrets
from tasks.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tasks.webhook_outbox import send_deliveries
from tasks.webhook_targets import Target, TargetUnresolvable, WebhookRefused, resolve_target

log = logging.getLogger(__name__)

COUNTDOWN_MAX_S = 900.0
"""Retries due sooner than this are sent with a countdown; later ones by the sweep (Redis
redelivers a held countdown message after its visibility timeout, so long ones are not held)."""

CLOCK_SLACK_S = 2.0
"""A delivery counts as due this early: a countdown timed on a worker's clock may run a bit
before the database's clock says so, and must not then wait for the sweep."""

USER_AGENT = "genjobs-webhooks/1"
"""The User-Agent of every delivery."""


@shared_task(
    name="webhooks.deliver",
    ignore_result=True,
    autoretry_for=DATABASE_DOWN,
    retry_backoff=1,
    retry_backoff_max=60,
    max_retries=20,
)
def deliver_webhook(delivery_id: str) -> str:
    """Make one attempt of a delivery if it is due; returns what happened."""
    settings = get_settings().webhooks
    claim = _claim(delivery_id, lease_s=3 * settings.timeout_s + 30)
    if claim is None:
        return "not due"
    if claim.disabled_at is not None:
        _cancel(delivery_id)
        return "canceled"
    started = time.monotonic()
    try:
        target = resolve_target(claim.url, allowed_hosts=settings.allowed_hosts)
    except WebhookRefused as exc:
        WEBHOOK_DELIVERIES.labels("refused").inc()
        _record(claim, started, status_code=None, error=f"refused: {exc}", retry=False)
        return "refused"
    except TargetUnresolvable as exc:
        return _failed(claim, started, None, str(exc))
    headers = signed_headers(claim.id, claim.payload, signing_secrets(claim.user_id))
    db.session.commit()  # hold no transaction open across the call
    status_code, error = post_webhook(target, claim.payload, headers, timeout_s=settings.timeout_s)
    if status_code is not None and 200 <= status_code < 300:
        WEBHOOK_DELIVERIES.labels("delivered").inc()
        _record(claim, started, status_code=status_code, error=None, retry=False, delivered=True)
        return "delivered"
    if status_code == 410:
        WEBHOOK_DELIVERIES.labels("failed").inc()
        _record(claim, started, status_code=410, error="410 Gone: endpoint disabled", retry=False)
        _disable_endpoint(claim.endpoint_id)
        return "gone"
    return _failed(claim, started, status_code, error)


def _failed(claim: Any, started: float, status_code: int | None, error: str | None) -> str:
    WEBHOOK_DELIVERIES.labels("failed").inc()
    delay_s = _record(claim, started, status_code=status_code, error=error, retry=True)
    if delay_s is None:
        return "failed"
    if delay_s <= COUNTDOWN_MAX_S:
        send_deliveries([claim.id], countdown_s=delay_s)
    return "retrying"


def _claim(delivery_id: str, *, lease_s: float) -> Any:
    row = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= func.now() + timedelta(seconds=CLOCK_SLACK_S),
            WebhookEndpoint.id == WebhookDelivery.endpoint_id,
        )
        .values(
            attempts=WebhookDelivery.attempts + 1,
            next_attempt_at=func.now() + timedelta(seconds=lease_s),
        )
        .returning(
            WebhookDelivery.id,
            WebhookDelivery.attempts,
            WebhookDelivery.payload,
            WebhookDelivery.endpoint_id,
            WebhookEndpoint.url,
            WebhookEndpoint.user_id,
            WebhookEndpoint.disabled_at,
        )
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.commit()
    return row


def signed_headers(msg_id: str, payload: str, keys: list[str]) -> dict[str, str]:
    """Standard Webhooks headers for this body, signed with every key given."""
    now = datetime.now(UTC)
    signature = " ".join(Webhook(key).sign(msg_id, now, payload) for key in keys)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def post_webhook(
    target: Target, payload: str, signed: dict[str, str], *, timeout_s: float
) -> tuple[int | None, str | None]:
    """POST the body to the checked target; returns (status code, error) and never raises."""
    headers = {"content-type": "application/json", "user-agent": USER_AGENT, **signed}
    if target.host_header:
        headers["host"] = target.host_header
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
    try:
        # No redirects: a 3xx could point anywhere, past the address check.
        with httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client:
            response = client.post(
                target.url, content=payload.encode(), headers=headers, extensions=extensions
            )
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    return response.status_code, error


def _record(
    claim: Any,
    started: float,
    *,
    status_code: int | None,
    error: str | None,
    retry: bool,
    delivered: bool = False,
) -> float | None:
    """Log the attempt and settle the delivery; returns the retry delay if one is due."""
    schedule = get_settings().webhooks.retry_schedule_s
    delay_s = schedule[claim.attempts - 1] if retry and claim.attempts <= len(schedule) else None
    next_at = func.now() + timedelta(seconds=delay_s) if delay_s is not None else None
    if delay_s is not None:
        values: dict[str, Any] = {"next_attempt_at": next_at}
    else:
        status = "delivered" if delivered else "failed"
        values = {"status": status, "next_attempt_at": None, "finished_at": func.now()}
    # Fenced on the attempt: a worker whose lease ran out (and was overtaken) writes nothing.
    settled = db.session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == claim.id,
            WebhookDelivery.attempts == claim.attempts,
            WebhookDelivery.status == "pending",
        )
        .values(**values)
        .returning(WebhookDelivery.next_attempt_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    db.session.add(
        WebhookAttempt(
            delivery_id=claim.id,
            attempt=claim.attempts,
            status_code=status_code,
            latency_ms=round((time.monotonic() - started) * 1000),
            error=error,
            next_attempt_at=settled.next_attempt_at if settled else None,
        )
    )
    try:
        db.session.commit()
    except IntegrityError:
        # The job (and so the delivery) was deleted while we called: nothing left to log.
        db.session.rollback()
        log.info("webhook delivery %s is gone (its job was deleted)", claim.id)
        return None
    return delay_s if settled else None


def _disable_endpoint(endpoint_id: int) -> None:
    db.session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=func.now(), disabled_reason="the receiver answered 410 Gone")
        .execution_options(synchronize_session=False)
    )
    _cancel_pending(WebhookDelivery.endpoint_id == endpoint_id)
    db.session.commit()
    log.warning("webhook endpoint %s answered 410 Gone: disabled", endpoint_id)


def _cancel(delivery_id: str) -> None:
    _cancel_pending(WebhookDelivery.id == delivery_id)
    db.session.commit()


def _cancel_pending(condition: Any) -> None:
    db.session.execute(
        update(WebhookDelivery)
        .where(condition, WebhookDelivery.status == "pending")
        .values(status="canceled", next_attempt_at=None, finished_at=func.now())
        .execution_options(synchronize_session=False)
    )


@shared_task(name="maintenance.send_due_webhooks", ignore_result=True)
def send_due_webhooks(limit: int = 500, grace_s: float | None = None) -> int:
    """Send deliveries due for longer than the grace: never sent, lost, or long retries."""
    if grace_s is None:
        grace_s = get_settings().lost_message_grace_s
    due = list(
        db.session.execute(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= func.now() - timedelta(seconds=grace_s),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        ).scalars()
    )
    db.session.commit()
    return send_deliveries(due) if due else 0
