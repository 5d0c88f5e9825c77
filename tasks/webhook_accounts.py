"""A user's webhook account: the signing secret (rotatable), endpoints, and the default webhook.

Secrets are Standard Webhooks `whsec_` keys (base64 of 32 random bytes). After a
rotation the previous key keeps signing, next to the new one, for
WEBHOOK_SECRET_GRACE_S, so receivers can switch without losing a delivery.
Callers commit.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from tasks.db import db
from tasks.webhook_models import WebhookAccount, WebhookEndpoint

SECRET_PREFIX = "whsec_"
"""Standard Webhooks' prefix of a signing secret."""


@dataclass(frozen=True, kw_only=True)
class WebhookSpec:
    """A webhook asked for at submit (or set as the default): where, and which events."""

    url: str
    events: tuple[str, ...]


def new_secret() -> str:
    """A fresh signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def ensure_account(user_id: int) -> WebhookAccount:
    """The user's webhook account, created with a new secret on first use."""
    db.session.execute(
        insert(WebhookAccount)
        .values(user_id=user_id, secret=new_secret())
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    return db.session.execute(
        select(WebhookAccount)
        .where(WebhookAccount.user_id == user_id)
        .execution_options(populate_existing=True)
    ).scalar_one()


def signing_secrets(user_id: int) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous in its grace."""
    ensure_account(user_id)
    row = db.session.execute(
        select(
            WebhookAccount.secret,
            WebhookAccount.previous_secret,
            WebhookAccount.previous_secret_expires_at > func.now(),
        ).where(WebhookAccount.user_id == user_id)
    ).one()
    current, previous, in_grace = row
    return [current, previous] if previous and in_grace else [current]


def rotate_secret(user_id: int, grace_s: float) -> WebhookAccount:
    """Make a new current secret; the old one keeps signing for `grace_s` seconds."""
    ensure_account(user_id)
    db.session.execute(
        update(WebhookAccount)
        .where(WebhookAccount.user_id == user_id)
        .values(
            previous_secret=WebhookAccount.secret,
            previous_secret_expires_at=func.now() + timedelta(seconds=grace_s),
            secret=new_secret(),
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    return ensure_account(user_id)


def endpoint_id(user_id: int, url: str) -> int:
    """The user's endpoint for this URL, created, or switched back on if a 410 had stopped it."""
    return int(
        db.session.execute(
            insert(WebhookEndpoint)
            .values(user_id=user_id, url=url)
            .on_conflict_do_update(
                index_elements=["user_id", "url"],
                set_={"disabled_at": None, "disabled_reason": None},
            )
            .returning(WebhookEndpoint.id)
        ).scalar_one()
    )


def set_default_webhook(user_id: int, spec: WebhookSpec) -> None:
    """Send the events of the user's jobs submitted without a webhook of their own here."""
    account = ensure_account(user_id)
    account.default_endpoint_id = endpoint_id(user_id, spec.url)
    account.default_events = list(spec.events)
    account.updated_at = func.now()


def clear_default_webhook(user_id: int) -> bool:
    """Stop using a default webhook for new jobs; False if there was none."""
    cleared = db.session.execute(
        update(WebhookAccount)
        .where(WebhookAccount.user_id == user_id, WebhookAccount.default_endpoint_id.is_not(None))
        .values(default_endpoint_id=None, default_events=None, updated_at=func.now())
        .returning(WebhookAccount.user_id)
    ).first()
    return cleared is not None


def default_webhook(user_id: int) -> dict[str, Any] | None:
    """The user's default webhook as a job carries it, or None (unset, or switched off)."""
    row = db.session.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.url, WebhookAccount.default_events)
        .join(WebhookAccount, WebhookAccount.default_endpoint_id == WebhookEndpoint.id)
        .where(WebhookAccount.user_id == user_id, WebhookEndpoint.disabled_at.is_(None))
    ).first()
    if row is None:
        return None
    return {"endpoint_id": row.id, "url": row.url, "events": list(row.default_events or [])}


def job_webhooks(user_id: int, specs: list[WebhookSpec | None]) -> list[dict[str, Any] | None]:
    """The webhook each job will carry: its own, else the user's default (one lookup per call)."""
    default = default_webhook(user_id) if any(spec is None for spec in specs) else None
    endpoints: dict[str, int] = {}
    carried: list[dict[str, Any] | None] = []
    for spec in specs:
        if spec is None:
            carried.append(default)
            continue
        if spec.url not in endpoints:
            endpoints[spec.url] = endpoint_id(user_id, spec.url)
        carried.append(
            {"endpoint_id": endpoints[spec.url], "url": spec.url, "events": list(spec.events)}
        )
    return carried
