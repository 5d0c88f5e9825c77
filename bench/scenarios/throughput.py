"""Throughput: 3-stage no-op jobs (every status write) vs raw Celery chains of three no-op tasks.

Both queues are filled first, with no worker running (jobs written as a submit
leaves them, by `bench.seed.seed_noop_jobs`, and sent as the app sends them);
then one worker with the Procfile's flags drains them. The rate counts from
the first stage's start to the last job's end, as each side records it
(Postgres `started_at`/`finished_at`; the raw tasks' own clock in Redis), so
worker start-up is not in it.
Target: >= 50 % of the raw chains/s.
"""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

from bench.context import Bench, Outcome
from bench.pgwaits import sampled
from bench.profile import profiled
from bench.seed import seed_noop_jobs
from bench.stats import Check, ratio

TIME_CAP_S = 100
"""Hard cap of the whole scenario."""

JOBS = 250
"""Jobs, and raw chains, per side."""

DRAIN_CAP_S = 35.0
"""Bound on one worker draining one queue."""


def run(bench: Bench) -> Outcome:
    """Fill, drain and time both sides."""
    outcome = Outcome("throughput")
    jobs = _jobs_side(bench, outcome)
    raw = _raw_side(bench, outcome)
    outcome.checks = [
        Check(
            scenario="throughput",
            metric="jobs/s",
            measured=jobs,
            baseline=raw,
            baseline_name="raw Celery chains",
            value=ratio(jobs, raw),
            unit="share",
            kind=">=",
            limit=0.5,
            measured_unit="/s",
        ),
    ]
    return outcome


def _jobs_side(bench: Bench, outcome: Outcome) -> float:
    with closing(bench.stack.connect()) as conn, conn.cursor() as cur:
        ids = seed_noop_jobs(cur, bench.bench_user_id(), 0, JOBS)
    send_s = bench.send_first_stages(ids)
    worker = bench.stack.worker("throughput-worker")
    waits: dict[str, Any] = {}
    with (
        profiled(bench.profile, worker, "throughput-worker", bench.profiles),
        bench.cpu_meter(worker=worker) as meter,
        sampled(bench.stack.connect, waits),
    ):
        done = bench.wait_final(JOBS, DRAIN_CAP_S)
    bench.stack.stop(worker)
    first, last, completed = bench.query(
        "SELECT extract(epoch FROM min(started_at)), extract(epoch FROM max(finished_at)),"
        " count(*) FILTER (WHERE status = 'completed') FROM jobs"
    )[0]
    window = float(last - first) if first and last else float("nan")
    rate = completed / window if window else float("nan")
    outcome.details["jobs"] = {
        "sent": JOBS,
        "send_s": round(send_s, 2),
        "final": done,
        "completed": int(completed),
        "window_s": round(window, 2),
        "per_s": round(rate, 1),
        "cpu": meter.as_json(),
        **waits,
    }
    if done < JOBS:
        outcome.notes.append(
            f"{done} of {JOBS} jobs finished within {DRAIN_CAP_S:.0f} s; the rate is theirs"
        )
    return rate


def _raw_side(bench: Bench, outcome: Outcome) -> float:
    from bench.raw_celery import done_key, raw_chain, started_key

    run_id = f"tp{int(time.time())}"
    sent_at = time.monotonic()
    for _ in range(JOBS):
        raw_chain(run_id).apply_async()
    send_s = time.monotonic() - sent_at
    worker = bench.stack.worker("raw-worker", app="bench.raw_celery")
    client = bench.stack.redis()
    deadline = time.monotonic() + DRAIN_CAP_S
    with bench.cpu_meter(worker=worker) as meter:
        while client.llen(done_key(run_id)) < JOBS and time.monotonic() < deadline:
            time.sleep(0.2)
    bench.stack.stop(worker)
    ends = [float(x) for x in client.lrange(done_key(run_id), 0, -1)]
    started = float(client.get(started_key(run_id)) or "nan")
    window = max(ends) - started if ends else float("nan")
    rate = len(ends) / window if window else float("nan")
    outcome.details["raw"] = {
        "sent": JOBS,
        "send_s": round(send_s, 2),
        "completed": len(ends),
        "window_s": round(window, 2),
        "per_s": round(rate, 1),
        "cpu": meter.as_json(),
    }
    return rate
