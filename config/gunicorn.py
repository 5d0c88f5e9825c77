"""Gunicorn settings for the web process (`gunicorn -c config/gunicorn.py 'webapp:create_app()'`).

gevent workers: an open event stream costs a greenlet, not a thread, so one
process holds thousands of them. psycopg2 is made cooperative after the fork,
so a database wait yields to the other streams instead of blocking them.

Metrics: every worker process writes its Prometheus counters under
METRICS_DIR/web (prometheus_client's multiprocess mode), emptied when gunicorn
starts; a worker that exits is marked dead so its live gauges stop counting.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from config import get_settings

_settings = get_settings()

METRICS_DIR = _settings.metrics_dir / "web"
"""Where the web processes keep their metrics; set before any of them imports prometheus_client."""

os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)

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


def on_starting(server: Any) -> None:
    """Start with no metrics files of an earlier run."""
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker process is gone: its live gauges (open streams) no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
