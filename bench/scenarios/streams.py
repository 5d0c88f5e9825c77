"""Streams: 1,000 concurrent SSE streams on one web process while their jobs run.

One web process (the Procfile's web command and worker class, `--workers 1`)
serves GET /api/v1/jobs/{id}/events for 1,000 pending noop jobs, all held open
by one aiohttp client; then a worker runs the jobs. Delivery latency of an
event = when the client read it - its `job_events.created_at` (the writing
transaction's start, so it includes that transaction's commit). Targets: the
web process under 300 MB RSS, event delivery p99 under 100 ms.
"""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from typing import Any

from bench.context import Bench, Outcome
from bench.profile import profiled
from bench.seed import seed_noop_jobs
from bench.sse import StreamLog, hold_streams
from bench.stack import Service
from bench.stats import Check, latency_ms, percentile

TIME_CAP_S = 85
"""Hard cap of the whole scenario."""

STREAMS = 1000
"""Concurrent streams, one per job."""

CONNECT_CAP_S, RUN_CAP_S = 25.0, 30.0
"""Bounds on opening every stream, and on the jobs running to the end."""


def run(bench: Bench) -> Outcome:
    """Hold the streams, run the jobs, measure memory and delivery latency."""
    outcome = Outcome("streams")
    web = bench.stack.web("web-sse", workers=1)
    missing = _endpoint_missing(bench, web)
    if missing:
        outcome.status = f"not measured: endpoint missing ({missing})"
        return outcome
    with closing(bench.stack.connect()) as conn, conn.cursor() as cur:
        ids = seed_noop_jobs(cur, bench.bench_user_id(), 0, STREAMS)
    log = StreamLog()
    client = threading.Thread(
        target=lambda: asyncio.run(
            hold_streams(web.url, ids, bench.auth, duration_s=CONNECT_CAP_S + RUN_CAP_S, log=log)
        ),
        name="sse-client",
        daemon=True,
    )
    rss: list[float] = []
    client.start()
    connected_s = _wait_connected(log, web, rss)
    idle_rss = max(rss, default=float("nan"))
    bench.send_first_stages(ids)
    worker_started = time.time()
    bench.stack.worker("streams-worker")
    deadline = time.monotonic() + RUN_CAP_S
    with (
        profiled(bench.profile, web, "streams-web", bench.profiles),
        bench.cpu_meter(web=web) as meter,
    ):
        while client.is_alive() and time.monotonic() < deadline:
            rss.append(_worker_rss_mb(web))
            client.join(timeout=0.5)
    latencies = _delivery_latencies(bench, log, worker_started)
    peak = max(rss, default=float("nan"))
    p99 = percentile(latencies, 99) * 1000
    outcome.checks = [
        Check(
            scenario="streams",
            metric="web process RSS, 1,000 streams",
            measured=peak,
            baseline=idle_rss,
            baseline_name="streams open, jobs idle",
            value=peak,
            unit="MiB",
            kind="<=",
            limit=300.0,
            measured_unit="MiB",
        ),
        Check(
            scenario="streams",
            metric="event delivery p99",
            measured=p99,
            baseline=None,
            baseline_name="–",
            value=p99,
            unit="ms",
            kind="<=",
            limit=100.0,
            measured_unit="ms",
        ),
        Check(
            scenario="streams",
            metric="streams held",
            measured=float(log.opened),
            baseline=float(STREAMS),
            baseline_name="asked for",
            value=log.opened / STREAMS,
            unit="share",
            kind=">=",
            limit=1.0,
        ),
    ]
    outcome.details = _details(log, latencies, connected_s, rss, meter.as_json())
    return outcome


def _endpoint_missing(bench: Bench, web: Service) -> str | None:
    """'404' or '405' when the events route does not exist, else None."""
    job_id, _ = bench.post_job("noop", {})
    request = urllib.request.Request(f"{web.url}/api/v1/jobs/{job_id}/events", headers=bench.auth)
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            response.readline()
    except urllib.error.HTTPError as exc:
        if exc.code in (404, 405):
            return str(exc.code)
    except TimeoutError:
        pass  # the route exists and holds the stream open
    bench.query("DELETE FROM jobs WHERE id = %s", (job_id,))
    return None


def _worker_rss_mb(web: Service) -> float:
    """RSS of the gunicorn worker process (not the master), in MiB."""
    children = web.processes()[1:]
    sizes = []
    for proc in children:
        try:
            sizes.append(proc.memory_info().rss / 2**20)
        except Exception:  # noqa: BLE001 - a process that just exited has no size
            continue
    return max(sizes, default=float("nan"))


def _wait_connected(log: StreamLog, web: Service, rss: list[float]) -> float:
    """Seconds until every stream got its first event (or the cap)."""
    started = time.monotonic()
    while time.monotonic() - started < CONNECT_CAP_S:
        rss.append(_worker_rss_mb(web))
        if len({e.job_id for e in log.events}) >= STREAMS:
            break
        time.sleep(0.25)
    return time.monotonic() - started


def _delivery_latencies(bench: Bench, log: StreamLog, since: float) -> list[float]:
    """Seconds from each event's creation to its arrival, for events created since `since`."""
    created = {
        (job_id, seq): float(at)
        for job_id, seq, at in bench.query(
            "SELECT job_id, seq, extract(epoch FROM created_at) FROM job_events"
            " WHERE created_at >= to_timestamp(%s)",
            (since,),
        )
    }
    return [
        e.at - created[(e.job_id, e.seq)]
        for e in list(log.events)
        if e.seq is not None and (e.job_id, e.seq) in created
    ]


def _details(
    log: StreamLog,
    latencies: list[float],
    connected_s: float,
    rss: list[float],
    cpu: dict[str, Any],
) -> dict[str, Any]:
    return {
        "streams": STREAMS,
        "opened": log.opened,
        "statuses": {str(k): v for k, v in log.statuses.items()},
        "ended_after_final_status": log.ended_final,
        "connect_all_s": round(connected_s, 2),
        "events_received": len(log.events),
        "heartbeats": log.heartbeats,
        "delivery": latency_ms(latencies),
        "rss_mib_samples": [round(x, 1) for x in rss[:: max(1, len(rss) // 40)]],
        "errors": log.errors[:10],
        "error_count": len(log.errors),
        "cpu_while_jobs_ran": cpu,
    }
