"""Submit: POST /api/v1/jobs (auth, validation, insert, enqueue) vs one INSERT + one LPUSH.

Both apps run under the Procfile's gunicorn settings with no worker consuming
the queues, loaded in alternating rounds so drift hits both alike. Requests
rotate over 16 vip users (one user's submits take turns on its admission lock,
so one user alone is measured too, and reported beside). Targets: >= 50 % of
the bare req/s, and p99 <= 2x the bare p99.
"""

from __future__ import annotations

import json
from typing import Any

from bench.bare_web import BARE_TABLE_DDL
from bench.context import Bench, Outcome
from bench.load import Phase, Request, drive, paired_ratio, rotate
from bench.profile import profiled
from bench.stats import Check, percentile, ratio

TIME_CAP_S = 60
"""Hard cap of the whole scenario."""

CONCURRENCY = 16
"""Client connections: one per gunicorn thread of the former gthread setting (2 x 8)."""

TENANTS = 16
"""Users the requests rotate over."""

ROUNDS, ROUND_S, WARMUP_S = 4, 2.5, 1.5
"""Alternating rounds per app, seconds each, and one warm-up per app."""

MAX_REQUESTS = 20_000
"""Upper bound on requests of one round."""

BODY = json.dumps({"kind": "noop", "input": {}}).encode()


def run(bench: Bench) -> Outcome:
    """Load both endpoints in alternating rounds; compare rate and p99."""
    bench.query(BARE_TABLE_DDL)
    app, bare = bench.app_web(), bench.bare_web()
    many = [
        Request(method="POST", path="/api/v1/jobs", body=BODY, headers=bench.auth_for(key))
        for key in bench.tenant_keys(TENANTS)
    ]
    one = [Request(method="POST", path="/api/v1/jobs", body=BODY, headers=bench.auth)]
    plain = [
        Request(
            method="POST",
            path="/bare/jobs",
            body=BODY,
            headers={"Content-Type": "application/json"},
        )
    ]
    targets = {"bare": (bare, plain), "app": (app, many), "app, one user": (app, one)}
    phases = {name: Phase(name) for name in targets}
    cpu: dict[str, Any] = {}
    for round_no in range(ROUNDS):
        for name, (service, requests) in targets.items():
            if name == "app, one user" and round_no % 2:
                continue  # two rounds are enough to show the lock's cost
            with (
                profiled(
                    bench.profile and round_no == 1, service, f"submit-{name}", bench.profiles
                ),
                bench.cpu_meter(web=service) as meter,
            ):
                drive(
                    phases[name],
                    service.url,
                    rotate(requests),
                    ok=202,
                    concurrency=CONCURRENCY,
                    duration_s=ROUND_S,
                    max_requests=MAX_REQUESTS,
                    warmup_s=WARMUP_S if round_no == 0 else 0.0,
                )
            cpu[name] = meter.as_json()  # the last round's split
    app_p, bare_p, one_p = phases["app"], phases["bare"], phases["app, one user"]
    app_p99, bare_p99 = (percentile(p.latencies_s, 99) * 1000 for p in (app_p, bare_p))
    outcome = Outcome("submit")
    outcome.checks = [
        Check(
            scenario="submit",
            metric="req/s",
            measured=app_p.rps,
            baseline=bare_p.rps,
            baseline_name="INSERT+LPUSH",
            value=paired_ratio(app_p, bare_p),
            unit="share",
            kind=">=",
            limit=0.5,
            measured_unit="req/s",
        ),
        Check(
            scenario="submit",
            metric="p99",
            measured=app_p99,
            baseline=bare_p99,
            baseline_name="INSERT+LPUSH",
            value=ratio(app_p99, bare_p99),
            unit="times",
            kind="<=",
            limit=2.0,
            measured_unit="ms",
        ),
    ]
    outcome.notes.append(
        f"one user alone: {one_p.rps:.0f} req/s, p99 "
        f"{percentile(one_p.latencies_s, 99) * 1000:.0f} ms ({TENANTS} users: "
        f"{app_p.rps:.0f} req/s)"
    )
    outcome.details = {
        "concurrency": CONCURRENCY,
        "tenants": TENANTS,
        "rounds": ROUNDS,
        "round_s": ROUND_S,
        **{name: phase.as_json() for name, phase in phases.items()},
        "cpu_last_round": cpu,
    }
    return outcome
