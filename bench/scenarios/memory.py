"""Memory: the worker's RSS after 10,000 noop jobs vs after 1,000.

One worker with the Procfile's flags runs pending noop jobs written by
`bench.seed.seed_noop_jobs` (one INSERT ... generate_series) and sent as the
app sends them (`Bench.send_first_stages`), in batches; RSS is read once every
job of a batch is final. Target: after 10,000 <= 1.1x after 1,000.

At the worker's current rate (see the throughput scenario) 10,000 jobs take far
longer than `make bench` may, so the run stops at its cap and both figures come
from a straight line fitted to the readings after the first batch (start-up);
the table says "projected from N jobs". `python -m bench memory
--memory-cap-s 1500` runs all 10,000 and then measures instead.
"""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

from bench.context import Bench, Outcome
from bench.seed import seed_noop_jobs
from bench.stats import Check, ratio

FIRST, TOTAL, BATCH = 1_000, 10_000, 250
"""Jobs at the baseline reading, in all, and per batch."""

RUN_CAP_S = 60.0
"""Default bound on running the jobs (seconds); `--memory-cap-s` overrides it."""


def time_cap_s(bench: Bench) -> float:
    """Hard cap of the whole scenario: the run's bound plus start-up and the last batch."""
    return (bench.memory_cap_s or RUN_CAP_S) + 30


def run(bench: Bench) -> Outcome:
    """Run batches until TOTAL or the cap, reading RSS after each."""
    worker = bench.stack.worker("memory-worker")
    user_id = bench.bench_user_id()
    cap_s = bench.memory_cap_s or RUN_CAP_S
    started = time.monotonic()
    readings: list[tuple[int, float, float]] = []  # (jobs final, RSS MiB, seconds)
    sent = 0
    with bench.cpu_meter(worker=worker) as meter:
        while sent < TOTAL and time.monotonic() - started < cap_s:
            with closing(bench.stack.connect()) as conn, conn.cursor() as cur:
                ids = seed_noop_jobs(cur, user_id, sent, BATCH)
            bench.send_first_stages(ids)
            sent += BATCH
            done = bench.wait_final(sent, max(0.0, cap_s - (time.monotonic() - started)))
            readings.append((done, worker.rss_mb(), time.monotonic() - started))
            if done < sent:
                break
    outcome = Outcome("memory")
    at_first, at_total, how = _figures(readings)
    reached = readings[-1][0] if readings else 0
    label = f"worker RSS after {TOTAL:,} jobs" + (
        "" if how == "measured" else f" (projected from {reached:,})"
    )
    outcome.checks = [
        Check(
            scenario="memory",
            metric=label,
            measured=at_total,
            baseline=at_first,
            baseline_name=f"after {FIRST:,}",
            value=ratio(at_total, at_first),
            unit="times",
            kind="<=",
            limit=1.1,
            measured_unit="MiB",
        ),
    ]
    if how != "measured":
        outcome.notes.append(
            f"{reached:,} jobs ran within {cap_s:.0f} s ({how}); "
            f"`python -m bench memory --memory-cap-s 1500` measures 10,000"
        )
    outcome.details = _details(readings, meter.as_json(), how)
    return outcome


def _figures(readings: list[tuple[int, float, float]]) -> tuple[float, float, str]:
    """RSS at FIRST and at TOTAL jobs: read if reached, else from a fitted line."""
    at = {n: rss for n, rss, _ in readings}
    reached = [n for n, _, _ in readings]
    if reached and reached[-1] >= TOTAL and any(n >= FIRST for n in reached):
        first = next(rss for n, rss, _ in readings if n >= FIRST)
        return first, at[reached[-1]], "measured"
    points = [(n, rss) for n, rss, _ in readings[1:]]  # the first batch includes start-up
    if len(points) < 2:
        return float("nan"), float("nan"), "too few readings to project"
    mean_n = sum(n for n, _ in points) / len(points)
    mean_r = sum(r for _, r in points) / len(points)
    spread = sum((n - mean_n) ** 2 for n, _ in points) or 1.0
    slope = sum((n - mean_n) * (r - mean_r) for n, r in points) / spread
    first, total = (mean_r + slope * (n - mean_n) for n in (FIRST, TOTAL))
    return first, total, f"linear fit, {slope * 1024:.2f} KiB per job"


def _details(readings: list[tuple[int, float, float]], cpu: Any, how: str) -> dict[str, Any]:
    last = readings[-1] if readings else None
    return {
        "readings": [
            {"jobs": n, "rss_mib": round(m, 1), "at_s": round(t, 1)} for n, m, t in readings
        ],
        "how": how,
        "jobs_per_s": round(last[0] / last[2], 1) if last and last[2] else None,
        "cpu": cpu,
    }
