"""Database tables: users and their API keys, jobs, job stages and job events.

Webhook tables (endpoints, signing secrets, the delivery outbox) are in
`tasks.webhook_models`.

Postgres is the source of truth; Redis only carries messages. Statuses are
plain strings checked by constraints; the allowed moves live in `tasks.states`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tasks.db import db

TIERS = ("standard", "vip")
"""User tiers; the tier caps a job's priority lane."""

LANES = ("high", "default", "low")
"""Priority lanes, most urgent first; each stage has one queue per lane."""


def new_job_id() -> str:
    """A random, unguessable job id."""
    return uuid.uuid4().hex


class User(db.Model):  # type: ignore[name-defined,misc]
    """Someone who submits jobs through API keys or the web UI."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(f"tier IN {TIERS}", name="tier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    tier: Mapped[str] = mapped_column(String(16), default="standard")
    # Per-user overrides of the tier's limits (None: the tier's default from config).
    requests_per_minute: Mapped[int | None]
    jobs_per_day: Mapped[int | None]
    max_pending: Mapped[int | None]
    max_in_flight: Mapped[int | None]
    # Operators may read /ops and /api/v1/stats, and see Flower links in job JSON.
    is_admin: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    api_keys: Mapped[list[ApiKey]] = relationship(back_populates="user")


class ApiKey(db.Model):  # type: ignore[name-defined,misc]
    """An API key, stored only as its SHA-256 (keys are random, so no slow hash is needed)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_keys")


class Job(db.Model):  # type: ignore[name-defined,misc]
    """One generation job; `last_seq` numbers its events."""

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'processing', 'completed', 'failed', 'canceled')",
            name="status",
        ),
        CheckConstraint(f"priority IN {LANES}", name="priority"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
        Index("ix_jobs_user_created", "user_id", "created_at", "id"),
        Index("ix_jobs_finished", "finished_at"),
        Index(
            "ix_jobs_pending_queue",
            "priority",
            "created_at",
            postgresql_where="status = 'pending'",
        ),
        # Jobs in flight per lane (metrics) without reading finished ones.
        Index("ix_jobs_processing", "priority", postgresql_where="status = 'processing'"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_job_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    stage: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(default="")
    priority: Mapped[str] = mapped_column(String(16), default="default")
    input: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    last_seq: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    # When the job was let past its user's in-flight cap; None while it waits in Postgres.
    admitted_at: Mapped[datetime | None]
    batch_id: Mapped[str | None] = mapped_column(
        ForeignKey("batches.id", ondelete="SET NULL"), index=True
    )
    # The effective webhook, copied at submit: {"endpoint_id", "url", "events"}, or None.
    webhook: Mapped[dict[str, Any] | None]

    stages: Mapped[list[JobStage]] = relationship(
        order_by="JobStage.position", cascade="all, delete-orphan", back_populates="job"
    )


class Batch(db.Model):  # type: ignore[name-defined,misc]
    """Many jobs submitted in one request."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_job_id)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class IdempotencyKey(db.Model):  # type: ignore[name-defined,misc]
    """A client's Idempotency-Key: the same key and body give the same job (kept 24 h)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)


class JobStage(db.Model):  # type: ignore[name-defined,misc]
    """One named step of a job; `attempts` is the fence a worker's writes must match."""

    __tablename__ = "job_stages"
    __table_args__ = (
        UniqueConstraint("job_id", "name"),
        CheckConstraint(
            "status IN ('pending', 'running', 'waiting', 'completed', 'failed', 'canceled')",
            name="status",
        ),
        # Provider callbacks find their stage by token; the reconciler finds overdue polls.
        Index("ix_job_stages_callback_token", "callback_token", unique=True),
        Index("ix_job_stages_provider_job_id", "provider_job_id"),
        Index("ix_job_stages_waiting", "poll_at", postgresql_where="status = 'waiting'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # `attempts` never goes down (it is the fence); a retried job's budget counts from here.
    retries_from: Mapped[int] = mapped_column(default=0, server_default="0")
    output: Mapped[dict[str, Any] | None]
    error: Mapped[dict[str, Any] | None]
    enqueued_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    # While `waiting`: the provider's job id, the secret in its callback URL, when to poll next.
    provider_job_id: Mapped[str | None] = mapped_column(String(255))
    callback_token: Mapped[str | None] = mapped_column(String(64))
    waiting_since: Mapped[datetime | None]
    poll_at: Mapped[datetime | None]

    job: Mapped[Job] = relationship(back_populates="stages")


class JobEvent(db.Model):  # type: ignore[name-defined,misc]
    """An append-only record of one change to a job, numbered per job by `seq`."""

    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("job_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int]
    type: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


# Registers the webhook tables on the same metadata (migrations, create_all).
from tasks import webhook_models as _webhook_models  # noqa: E402,F401
