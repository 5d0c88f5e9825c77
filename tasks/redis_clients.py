"""Plain Redis clients on the broker's server, for what Celery does not do for us.

Keys carry BROKER_KEY_PREFIX by hand (`key()`), as kombu does for its own.
"""

from __future__ import annotations

from functools import cache

import redis

from config import get_settings, service_urls


def key(name: str) -> str:
    """A Redis key or channel name under this deployment's prefix."""
    return get_settings().broker_key_prefix + name


@cache
def quick_client() -> redis.Redis:
    """Short timeouts: for calls on a hot path that must never hold anything up."""
    return redis.Redis.from_url(service_urls()[1], socket_timeout=1, socket_connect_timeout=1)


@cache
def scan_client() -> redis.Redis:
    """Longer timeouts: for maintenance that reads whole queues."""
    return redis.Redis.from_url(service_urls()[1], socket_timeout=5, socket_connect_timeout=2)
