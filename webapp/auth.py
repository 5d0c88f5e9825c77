"""API keys: created once and shown once, stored as SHA-256, presented as `Bearer` tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import g, request, session
from sqlalchemy.orm import joinedload

from tasks.db import db
from tasks.models import ApiKey, User
from webapp.errors import ApiError

KEY_PREFIX = "gj_"
"""Every API key starts with this, so leaked keys are easy to spot."""

P = ParamSpec("P")
R = TypeVar("R")


def hash_key(raw_key: str) -> str:
    """The stored form of an API key."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def issue_api_key(user: User) -> str:
    """Create a new key for `user` (caller commits); the raw key is returned only here."""
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(ApiKey(user=user, key_hash=hash_key(raw_key), prefix=raw_key[:10]))
    return raw_key


def active_key(raw_key: str) -> ApiKey | None:
    """The unrevoked key with this value (its `user` loaded), or None."""
    return db.session.execute(
        db.select(ApiKey)
        .options(joinedload(ApiKey.user))
        .where(ApiKey.key_hash == hash_key(raw_key), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()


def session_user() -> User | None:
    """The user of this browser's session, while the key that opened it is unrevoked."""
    key_id = session.get("api_key_id")
    if not isinstance(key_id, int):
        return None
    return db.session.execute(
        db.select(User).join(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()


def current_user() -> User:
    """The authenticated user of this request."""
    user: User = g.user
    return user


def require_api_key(view: Callable[P, R]) -> Callable[P, R]:
    """Reject the request with 401 unless it carries a valid key (or, to read, a session).

    The session cookie set by POST /api/v1/session counts only for GET and HEAD:
    browsers cannot add headers to EventSource or <img>, and a forged cross-site
    request must not be able to change anything.
    """

    @wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        key = active_key(token.strip()) if scheme.lower() == "bearer" and token else None
        user = key.user if key is not None else None
        if user is None and not token and request.method in ("GET", "HEAD"):
            user = session_user()
        if user is None:
            raise ApiError(
                401,
                "unauthorized",
                "send a valid API key as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="api"'},
            )
        g.user, g.api_key_id = user, key.id if key is not None else None
        return view(*args, **kwargs)

    return wrapped
