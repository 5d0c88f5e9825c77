"""Quotas and rate limits on submit, per user and tier, held in Redis across web processes.

Three limits: requests per minute (a moving window), jobs per day (a moving
window where a batch of N costs N), and jobs pending at once (counted in
Postgres). Over a limit: 429 with Retry-After. Every submit answer carries
RateLimit-Limit / -Remaining / -Reset for the per-minute limit. If Redis cannot
be reached the two Redis limits are skipped (logged): a broker hiccup must not
block submits, which survive a dead broker anyway.
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache

from limits import RateLimitItemPerDay, RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy import func, select

from config import get_settings, service_urls
from tasks.db import db
from tasks.models import Job, User
from tasks.states import PENDING
from webapp.errors import ApiError

log = logging.getLogger(__name__)


@cache
def _limiter() -> MovingWindowRateLimiter:
    storage = RedisStorage(
        service_urls()[1],
        key_prefix=get_settings().broker_key_prefix + "genjobs-limits",
        wrap_exceptions=True,
        socket_timeout=1,
        socket_connect_timeout=1,
    )
    return MovingWindowRateLimiter(storage)


def _limit(user: User, name: str) -> int:
    own = getattr(user, name)
    return int(own) if own else int(getattr(get_settings().tier_limits[user.tier], name))


def admit_submit(user: User, job_count: int) -> dict[str, str]:
    """Charge a request and `job_count` jobs to the user or raise 429; returns RateLimit headers."""
    per_minute = RateLimitItemPerMinute(_limit(user, "requests_per_minute"))
    per_day = RateLimitItemPerDay(_limit(user, "jobs_per_day"))
    who = f"user:{user.id}"
    headers: dict[str, str] = {}
    try:
        limiter = _limiter()
        allowed = limiter.hit(per_minute, who, "submit")
        headers = _headers(limiter, per_minute, who, "submit")
        if not allowed:
            raise _too_many("requests_per_minute", "too many requests this minute", headers)
        if job_count > per_day.amount or not limiter.hit(per_day, who, "jobs", cost=job_count):
            day_headers = {
                **headers,
                "Retry-After": _headers(limiter, per_day, who, "jobs")["RateLimit-Reset"],
            }
            raise _too_many("jobs_per_day", "daily job quota reached", day_headers)
    except StorageError as exc:  # fail open, loudly
        log.warning("rate limits skipped, Redis unavailable: %s", exc)
    max_pending = _limit(user, "max_pending")
    pending = db.session.execute(
        select(func.count()).select_from(Job).where(Job.user_id == user.id, Job.status == PENDING)
    ).scalar_one()
    if pending + job_count > max_pending:
        message = f"you have {pending} pending jobs; the limit is {max_pending}"
        raise _too_many("max_pending", message, {**headers, "Retry-After": "30"})
    return headers


def _headers(limiter: MovingWindowRateLimiter, item: object, *ids: str) -> dict[str, str]:
    stats = limiter.get_window_stats(item, *ids)  # type: ignore[arg-type]
    reset_s = max(0, math.ceil(stats.reset_time - time.time()))
    return {
        "RateLimit-Limit": str(item.amount),  # type: ignore[attr-defined]
        "RateLimit-Remaining": str(stats.remaining),
        "RateLimit-Reset": str(reset_s),
    }


def _too_many(limit: str, message: str, headers: dict[str, str]) -> ApiError:
    headers.setdefault("Retry-After", headers.get("RateLimit-Reset", "60"))
    return ApiError(429, "rate_limited", f"{message} ({limit})", headers=headers)
