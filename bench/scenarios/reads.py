"""Status reads: GET /api/v1/jobs/{id} with 100 and with 100,000 jobs vs one bare SELECT by key.

The two table sizes live in two databases of one server, each behind its own
web app (Procfile settings), so the three targets (app on 100 rows, app on
100k rows, bare SELECT on 100k rows) are loaded in short alternating rounds and
machine drift hits all alike. Rows come from `bench.seed` (one INSERT ...
generate_series per table); requests rotate over 100 jobs with the table's
status mix. The list query and the queue-position count the app sends are
caught in Postgres's log and EXPLAIN ANALYZEd at 100k rows.
Targets: 100k rate >= 90 % of the 100 rate and >= 70 % of the bare SELECT's.
"""

from __future__ import annotations

import urllib.request
from contextlib import closing
from typing import Any

from bench import plans
from bench.context import Bench, Outcome
from bench.load import Phase, Request, drive, paired_ratio, rotate
from bench.profile import profiled
from bench.seed import job_id, seed_jobs
from bench.stack import Service
from bench.stats import Check

TIME_CAP_S = 90
"""Hard cap of the whole scenario."""

SMALL, LARGE = 100, 100_000
"""Table sizes compared."""

LARGE_DB = "reads_large"
"""The database holding the 100k rows."""

CONCURRENCY, ROUNDS, ROUND_S, WARMUP_S = 16, 3, 2.5, 1.0
"""Client connections; alternating rounds per target and seconds each; warm-up per target."""

MAX_REQUESTS = 20_000
"""Upper bound on requests of one round."""


def run(bench: Bench) -> Outcome:
    """Seed both sizes, load the three targets in turn, explain the list and count queries."""
    url, large_key = bench.stack.add_database(LARGE_DB)
    with closing(bench.stack.connect()) as conn, conn.cursor() as cur:
        seed_jobs(cur, _user_id(cur), 0, SMALL - 1)
    with closing(bench.stack.connect(LARGE_DB)) as conn, conn.cursor() as cur:
        seed_jobs(cur, _user_id(cur), 0, LARGE - 1)
    large_env = {"DATABASE_URL": url}
    large_app = bench.stack.web("web-100k", extra_env=large_env)
    large_bare = bench.stack.web(
        "bare-web-100k", app_spec="bench.bare_web:create_app()", extra_env=large_env
    )
    small_ids = [job_id(g) for g in range(SMALL)]
    large_ids = [job_id(k * 1000 + k) for k in range(100)]  # g % 100 == k: the same mix
    targets = {
        "app@100": (bench.app_web(), _gets("/api/v1/jobs/", small_ids, bench.auth)),
        "app@100k": (large_app, _gets("/api/v1/jobs/", large_ids, bench.auth_for(large_key))),
        "bare@100k": (large_bare, _gets("/bare/jobs/", large_ids, {})),
    }
    phases, cpu = _alternate(bench, targets)
    with closing(bench.stack.connect(LARGE_DB)) as conn, conn.cursor() as cur:
        explained = _explain(bench, cur, large_app.url, bench.auth_for(large_key))
    small, large, bare = (phases[n].rps for n in ("app@100", "app@100k", "bare@100k"))
    outcome = Outcome("reads")
    outcome.checks = [
        Check(
            scenario="reads",
            metric="GET job, 100k vs 100 rows",
            measured=large,
            baseline=small,
            baseline_name="same API, 100 rows",
            value=paired_ratio(phases["app@100k"], phases["app@100"]),
            unit="share",
            kind=">=",
            limit=0.9,
            measured_unit="req/s",
        ),
        Check(
            scenario="reads",
            metric="GET job at 100k rows",
            measured=large,
            baseline=bare,
            baseline_name="bare SELECT by key",
            value=paired_ratio(phases["app@100k"], phases["bare@100k"]),
            unit="share",
            kind=">=",
            limit=0.7,
            measured_unit="req/s",
        ),
    ]
    for name, plan in explained.items():
        uses_index = plan is not None and not plan["seq_scan_on_jobs"] and bool(plan["indexes"])
        outcome.checks.append(
            Check(
                scenario="reads",
                metric=f"{name} at 100k rows: index",
                measured=plan["execution_ms"] if plan else float("nan"),
                baseline=None,
                baseline_name="EXPLAIN ANALYZE",
                value=1.0 if uses_index else 0.0,
                unit="index",
                kind=">=",
                limit=1.0,
                measured_unit="ms",
                note=", ".join(plan["indexes"]) if plan else "statement not seen",
            ),
        )
    outcome.details.update(
        {name: phase.as_json() for name, phase in phases.items()}, cpu=cpu, plans=explained
    )
    return outcome


def _user_id(cur: Any) -> int:
    cur.execute("SELECT id FROM users WHERE name = 'bench'")
    return int(cur.fetchone()[0])


def _gets(prefix: str, ids: list[str], headers: dict[str, str]) -> list[Request]:
    return [Request(method="GET", path=prefix + i, headers=headers) for i in ids]


def _alternate(
    bench: Bench, targets: dict[str, tuple[Service, list[Request]]]
) -> tuple[dict[str, Phase], dict[str, Any]]:
    phases = {name: Phase(name) for name in targets}
    cpu: dict[str, Any] = {}
    for round_no in range(ROUNDS):
        for name, (service, requests) in targets.items():
            with (
                profiled(bench.profile and round_no == 1, service, f"reads-{name}", bench.profiles),
                bench.cpu_meter(web=service) as meter,
            ):
                drive(
                    phases[name],
                    service.url,
                    rotate(requests),
                    ok=200,
                    concurrency=CONCURRENCY,
                    duration_s=ROUND_S,
                    max_requests=MAX_REQUESTS,
                    warmup_s=WARMUP_S if round_no == 0 else 0.0,
                )
            cpu[name] = meter.as_json()  # the last round's split
    return phases, cpu


def _explain(bench: Bench, cur: Any, base_url: str, auth: dict[str, str]) -> dict[str, Any]:
    """Catch the list query and the queue-position count; EXPLAIN ANALYZE both."""
    cur.execute("SELECT id FROM jobs WHERE status = 'pending' ORDER BY created_at DESC LIMIT 1")
    newest_pending = cur.fetchone()[0]
    seen: list[str] = []
    log = bench.stack.base / "pg" / "postgres.log"
    with plans.statements_logged(cur, log, seen):
        for path in (
            "/api/v1/jobs?status=pending&kind=image&limit=20",
            f"/api/v1/jobs/{newest_pending}",
        ):
            request = urllib.request.Request(base_url + path, headers=auth)
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
    listing = plans.first(
        seen,
        lambda s: (
            s.startswith("SELECT jobs.id")
            and "ORDER BY" in s
            and "LIMIT" in s
            and "jobs.status =" in s
        ),
    )
    count = plans.first(
        seen, lambda s: "count(" in s.lower() and "'pending'" in s and "priority" in s
    )
    return {
        "list query": plans.explain(cur, listing) if listing else None,
        "queue-position count": plans.explain(cur, count) if count else None,
    }
