"""Overhead: end-to-end latency of one 3-stage no-op job minus one raw Celery chain's.

One at a time on idle workers (the Procfile's worker for jobs, the same flags
for the raw app), alternating job and chain. A job runs from just before its
POST to its `finished_at` in Postgres; a chain from just before `apply_async`
to the time its last task records. Target: the p50 difference <= 15 ms.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import closing
from typing import Any

from bench import plans
from bench.context import Bench, Outcome
from bench.stats import Check, latency_ms, percentile

TIME_CAP_S = 60
"""Hard cap of the whole scenario."""

SAMPLES, WARMUP = 30, 3
"""Measured pairs, after this many unmeasured ones."""

SAMPLE_CAP_S = 10.0
"""Longest wait for one job or chain."""

POLL_S = 0.005
"""How often the job's row is read while waiting for it to finish."""


def run(bench: Bench) -> Outcome:
    """Alternate single jobs and single chains; compare medians."""
    from bench.raw_celery import done_key, raw_chain

    bench.app_web()
    bench.stack.worker("overhead-worker")
    bench.stack.worker("overhead-raw-worker", app="bench.raw_celery")
    client = bench.stack.redis()
    jobs: list[float] = []
    chains: list[float] = []
    parts: list[dict[str, float]] = []
    with closing(bench.stack.connect()) as conn, conn.cursor() as cur:
        for n in range(WARMUP + SAMPLES):
            job_id, sent = bench.post_job("noop", {})
            posted = time.time()
            finished = _wait_finished(cur, job_id)
            run_id = f"ov{n}-{time.time()}"
            chain_sent = time.time()
            raw_chain(run_id).apply_async()
            chain_end = client.blpop([done_key(run_id)], timeout=SAMPLE_CAP_S)
            if n < WARMUP or finished is None or chain_end is None:
                continue
            jobs.append(finished - sent)
            chains.append(float(chain_end[1]) - chain_sent)
            parts.append(_breakdown(cur, job_id, sent, posted))
        statements = _statements_of_one_job(bench, cur)
    job_p50, chain_p50 = percentile(jobs, 50) * 1000, percentile(chains, 50) * 1000
    outcome = Outcome("overhead")
    outcome.checks = [
        Check(
            scenario="overhead",
            metric="p50 end-to-end",
            measured=job_p50,
            baseline=chain_p50,
            baseline_name="raw chain",
            value=job_p50 - chain_p50,
            unit="ms",
            kind="<=",
            limit=15.0,
            measured_unit="ms",
        ),
    ]
    outcome.details = {
        "samples": len(jobs),
        "job": latency_ms(jobs),
        "raw_chain": latency_ms(chains),
        "job_breakdown_p50_ms": {
            key: round(percentile([p[key] for p in parts], 50), 2) for key in parts[0]
        }
        if parts
        else {},
        "statements_per_job": statements,
    }
    outcome.notes.append(
        f"one job sends {statements['total']} SQL statements "
        f"({statements['by_verb'].get('COMMIT', 0)} commits) from POST to completed"
    )
    return outcome


def _statements_of_one_job(bench: Bench, cur: Any) -> dict[str, Any]:
    """Every statement web and worker send for one job, caught in Postgres's log."""
    seen: list[str] = []
    with plans.statements_logged(cur, bench.stack.base / "pg" / "postgres.log", seen):
        job_id, _ = bench.post_job("noop", {})
        _wait_finished(cur, job_id)
        time.sleep(0.2)  # the worker's last commit and follow-ups
    ours = [
        s for s in seen if "bench-marker" not in s and "extract(epoch FROM finished_at)" not in s
    ]
    verbs = Counter(s.split(" ", 1)[0].upper() for s in ours)
    return {"total": len(ours), "by_verb": dict(verbs.most_common()), "statements": ours}


def _wait_finished(cur: Any, job_id: str) -> float | None:
    """Epoch seconds of the job's finished_at once it is final; None past the cap."""
    deadline = time.monotonic() + SAMPLE_CAP_S
    while time.monotonic() < deadline:
        cur.execute(
            "SELECT extract(epoch FROM finished_at) FROM jobs WHERE id = %s"
            " AND status IN ('completed', 'failed', 'canceled')",
            (job_id,),
        )
        row = cur.fetchone()
        if row:
            return float(row[0])
        time.sleep(POLL_S)
    return None


def _breakdown(cur: Any, job_id: str, sent: float, posted: float) -> dict[str, float]:
    """Where one job's time went, in ms: the POST, then each stage's wait and run."""
    cur.execute(
        "SELECT extract(epoch FROM enqueued_at), extract(epoch FROM started_at),"
        " extract(epoch FROM finished_at) FROM job_stages WHERE job_id = %s ORDER BY position",
        (job_id,),
    )
    parts = {"post_ms": (posted - sent) * 1000}
    previous_end = sent
    for i, (enqueued, started, finished) in enumerate(cur.fetchall(), 1):
        if started is None or finished is None:
            continue
        ready = float(enqueued) if enqueued else previous_end
        parts[f"stage{i}_wait_ms"] = (float(started) - max(ready, previous_end)) * 1000
        parts[f"stage{i}_run_ms"] = (float(finished) - float(started)) * 1000
        previous_end = float(finished)
    return parts
