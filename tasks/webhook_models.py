"""Webhook tables: endpoints, each user's signing secret and default, the delivery outbox and log.

A delivery row is written in the same transaction as the job event that causes
it (`tasks.webhook_outbox`), so a committed event always has its delivery;
rows go with their job (FK cascade), and so with retention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tasks.db import db

DELIVERY_STATUSES = ("pending", "delivered", "failed", "canceled")
"""pending (due at next_attempt_at), delivered (2xx), failed (gave up), canceled (endpoint off)."""


class WebhookEndpoint(db.Model):  # type: ignore[name-defined,misc]
    """A URL a user's events go to; a 410 answer switches it off (`disabled_at`)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("user_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2048))
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookAccount(db.Model):  # type: ignore[name-defined,misc]
    """A user's signing secret (and the one before it, during a rotation) and default endpoint."""

    __tablename__ = "webhook_accounts"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # `whsec_` + base64 of 32 random bytes; kept readable because signing needs it.
    secret: Mapped[str] = mapped_column(String(64))
    previous_secret: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[datetime | None]
    default_endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="SET NULL")
    )
    default_events: Mapped[list[str] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class WebhookDelivery(db.Model):  # type: ignore[name-defined,misc]
    """One event for one endpoint: the exact body to sign and send, and where its retries stand."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="status"),
        # The sweep reads only what is still due.
        Index(
            "ix_webhook_deliveries_due", "next_attempt_at", postgresql_where="status = 'pending'"
        ),
        Index(
            "ix_webhook_deliveries_endpoint_pending",
            "endpoint_id",
            postgresql_where="status = 'pending'",
        ),
    )

    # Also the `webhook-id` header: the same on every attempt, so receivers can de-duplicate.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    finished_at: Mapped[datetime | None]


class WebhookAttempt(db.Model):  # type: ignore[name-defined,misc]
    """The log of one HTTP attempt of a delivery."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(500))
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
