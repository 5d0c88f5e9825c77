"""/metrics: Prometheus text for the web app, and gauges read live from Postgres and Redis.

Under gunicorn every web process writes its counters to PROMETHEUS_MULTIPROC_DIR
(set and emptied by `config/gunicorn.py`), and whichever process answers the
scrape adds them all up. Queue depths and jobs in flight are read when scraped,
so they are right whatever process answers; open event streams are a live sum
of what each web process last reported (every few seconds).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from tasks.db import db
from tasks.enqueue import LANE_PRIORITY
from tasks.models import TIERS
from tasks.queue_depths import queue_depths, unacked_messages
from webapp.api.stats import jobs_in_flight
from webapp.live import event_hub

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

SSE_SAMPLE_INTERVAL_S = 5.0
"""How often each web process reports its open event streams."""

SSE_OPEN_STREAMS = Gauge(
    "genjobs_sse_open_streams",
    "Event streams (GET /jobs/{id}/events) open now, over all web processes.",
    multiprocess_mode="livesum",
)

_sampler_pid = 0
_sampler_lock = threading.Lock()


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus exposition text (counters of every web process, live gauges).

    Response: text/plain; version=0.0.4
        genjobs_jobs_submitted_total{kind="image"} 12.0
        genjobs_queue_depth{lane="default",queue="generate"} 3.0
    """
    _sample_open_streams()
    live = CollectorRegistry()
    live.register(LiveGauges())
    body = generate_latest(_counters()) + generate_latest(live)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


def _counters() -> CollectorRegistry:
    if values.ValueClass is values.MutexValue:
        return REGISTRY  # one process (tests, `flask run`): its own registry is the truth
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return registry


class LiveGauges:
    """Collector of what is true right now: queue depths, broker backlog, jobs in flight."""

    def collect(self) -> Iterator[Metric]:
        """Each family is read on its own; one that fails is logged and left out."""
        for read in (self._queues, self._in_flight):
            try:
                yield from read()
            except Exception as exc:  # noqa: BLE001 - a scrape must answer with what it has
                db.session.rollback()
                log.warning("metrics: %s unavailable: %s", read.__name__.strip("_"), exc)

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "genjobs_queue_depth", "Stage messages waiting in a queue.", labels=["queue", "lane"]
        )
        oldest = GaugeMetricFamily(
            "genjobs_queue_oldest_message_age_seconds",
            "Age of the oldest message waiting in a queue (0 when it is empty).",
            labels=["queue"],
        )
        for queue in queue_depths():
            for lane, count in queue.lanes.items():
                depth.add_metric([queue.queue, lane], count)
            oldest.add_metric([queue.queue], queue.oldest_age_s or 0.0)
        unacked = GaugeMetricFamily(
            "genjobs_broker_unacked_messages",
            "Messages delivered to workers and not yet acknowledged.",
            value=unacked_messages(),
        )
        yield from (depth, oldest, unacked)

    def _in_flight(self) -> Iterator[Metric]:
        counts = {(row["lane"], row["tier"]): row["jobs"] for row in jobs_in_flight()}
        db.session.commit()
        family = GaugeMetricFamily(
            "genjobs_jobs_in_flight",
            "Jobs processing now, by lane and tier.",
            labels=["lane", "tier"],
        )
        for lane in LANE_PRIORITY:
            for tier in TIERS:
                family.add_metric([lane, tier], counts.get((lane, tier), 0))
        yield family


def _sample_open_streams() -> None:
    try:
        SSE_OPEN_STREAMS.set(event_hub().open_streams())
    except Exception as exc:  # noqa: BLE001
        log.warning("metrics: open streams not sampled: %s", exc)


@bp.before_app_request
def _start_stream_sampler() -> None:
    """Once per web process: report its open streams every few seconds, from a daemon thread."""
    global _sampler_pid
    if _sampler_pid == os.getpid():
        return
    with _sampler_lock:
        if _sampler_pid == os.getpid():
            return
        _sampler_pid = os.getpid()
    threading.Thread(target=_sample_forever, name="sse-sampler", daemon=True).start()


def _sample_forever() -> None:
    while True:
        _sample_open_streams()
        time.sleep(SSE_SAMPLE_INTERVAL_S)
