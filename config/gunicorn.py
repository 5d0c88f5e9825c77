"""Gunicorn settings for the web process (`gunicorn -c config/gunicorn.py 'webapp:create_app()'`).

gevent workers: an open event stream costs a greenlet, not a thread, so one
process holds thousands of them. psycopg2 is made cooperative after the fork,
so a database wait yields to the other streams instead of blocking them.
"""

from __future__ import annotations

from typing import Any

from config import get_settings

_settings = get_settings()

bind = f"{_settings.host}:{_settings.port}"
worker_class = "gevent"
workers = 2
worker_connections = 2000
timeout = 60
graceful_timeout = 10
accesslog = "-"


def post_fork(server: Any, worker: Any) -> None:
    """Let psycopg2 wait on sockets through gevent."""
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()
