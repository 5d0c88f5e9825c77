"""The Flask-SQLAlchemy handle shared by the web app and the workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, registry

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Stable constraint names, so Alembic migrations can refer to them."""


class Base(DeclarativeBase):
    """Declarative base: timezone-aware datetimes and JSONB for dict columns."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: DateTime(timezone=True),
            dict[str, Any]: JSONB,
        },
    )


db = SQLAlchemy(model_class=Base)

DATABASE_DOWN = (OperationalError, InterfaceError)
"""Connection-level database failures: a task hit by one is sent again until Postgres is back."""

RETRY_WHILE_DATABASE_DOWN: dict[str, Any] = {
    "autoretry_for": DATABASE_DOWN,
    "retry_backoff": 1,
    "retry_backoff_max": 30,
    "retry_jitter": True,
    "max_retries": 40,
}
"""Celery task options for tasks that must outlast a Postgres restart (stages, polls)."""
