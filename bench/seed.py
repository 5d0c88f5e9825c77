"""Rows for the read scenarios, written by one INSERT ... SELECT generate_series each.

Job number g gets a status from `g % 100` (90 completed, 5 failed, 3 pending,
2 processing), a lane from `g % 3`, and a creation time one second after job
g - 1, so the status mix of any 100 consecutive numbers matches the table's.
"""

from __future__ import annotations

from typing import Any

STATUS_SQL = """CASE WHEN g %% 100 < 90 THEN 'completed' WHEN g %% 100 < 95 THEN 'failed'
    WHEN g %% 100 < 98 THEN 'pending' ELSE 'processing' END"""

JOB_ID_SQL = "md5('bench-job-' || g::text)"
"""Job g's id (32 hex characters, as the app's)."""

RESULT_SQL = """CASE WHEN g %% 100 < 90 THEN jsonb_build_object(
    'artifacts', jsonb_build_array(
        jsonb_build_object('name', 'image.png', 'content_type', 'image/png', 'size', 48213),
        jsonb_build_object('name', 'thumbnail.png', 'content_type', 'image/png', 'size', 9120)),
    'provider', 'local', 'prompt', 'a red lighthouse at dusk', 'width', 1024, 'height', 1024)
  END"""

OPTIONAL_COLUMNS = {"admitted_at": "created"}
"""Columns newer migrations may add -> the value they get (if the table has them)."""


def job_id(g: int) -> str:
    """The id job number g is given (computed by Postgres; here for reference)."""
    import hashlib

    return hashlib.md5(f"bench-job-{g}".encode()).hexdigest()


def seed_jobs(cur: Any, user_id: int, first: int, last: int) -> None:
    """Insert jobs first..last (inclusive) with three stages each, in two statements."""
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'")
    present = {row[0] for row in cur.fetchall()}
    extra = [name for name in OPTIONAL_COLUMNS if name in present]
    extra_cols = "".join(f", {name}" for name in extra)
    extra_vals = "".join(f", {OPTIONAL_COLUMNS[name]}" for name in extra)
    cur.execute(
        f"""
        INSERT INTO jobs (id, user_id, kind, status, stage, progress, message, priority, input,
                          result, error, last_seq, created_at, started_at, finished_at,
                          updated_at{extra_cols})
        SELECT {JOB_ID_SQL}, %(user)s, 'image', status,
               CASE WHEN status = 'processing' THEN 'generate' END,
               CASE status WHEN 'completed' THEN 100 WHEN 'processing' THEN 40 ELSE 0 END,
               CASE status WHEN 'pending' THEN 'Waiting for a worker' ELSE initcap(status) END,
               (ARRAY['high', 'default', 'low'])[g %% 3 + 1],
               '{{"prompt": "a red lighthouse at dusk", "size": "1024x1024"}}'::jsonb,
               {RESULT_SQL},
               CASE WHEN status = 'failed' THEN '{{"code": "content_rejected",
                 "message": "refused", "retryable": false}}'::jsonb END,
               3, created, CASE WHEN status <> 'pending' THEN created + interval '1 s' END,
               CASE WHEN status IN ('completed', 'failed') THEN created + interval '9 s' END,
               created + interval '9 s'{extra_vals}
        FROM (SELECT g, {STATUS_SQL} AS status,
                     now() - (%(last)s - g) * interval '1 s' - interval '1 day' AS created
              FROM generate_series(%(first)s, %(last)s) AS g) AS numbered
        """,
        {"user": user_id, "first": first, "last": last},
    )
    cur.execute(
        f"""
        INSERT INTO job_stages (job_id, position, name, status, attempts, started_at, finished_at)
        SELECT {JOB_ID_SQL}, s.position, s.name,
               CASE WHEN {STATUS_SQL} = 'completed' THEN 'completed' ELSE 'pending' END,
               CASE WHEN {STATUS_SQL} = 'completed' THEN 1 ELSE 0 END,
               CASE WHEN {STATUS_SQL} = 'completed' THEN now() - interval '1 day' END,
               CASE WHEN {STATUS_SQL} = 'completed'
                    THEN now() - interval '1 day' + s.position * interval '3 s' END
        FROM generate_series(%(first)s, %(last)s) AS g
        CROSS JOIN (VALUES (0, 'prepare'), (1, 'generate'), (2, 'finalize')) AS s(position, name)
        """,
        {"first": first, "last": last},
    )
    cur.execute("ANALYZE jobs")
    cur.execute("ANALYZE job_stages")


def seed_noop_jobs(cur: Any, user_id: int, first: int, count: int) -> list[str]:
    """Insert `count` pending, admitted `noop` jobs as a submit leaves them; returns their ids.

    Each gets its three stages and its creation event (seq 1), like `submit_jobs`
    writes them, so workers and streams see nothing unusual. Nothing is sent: see
    `Bench.send_first_stages`.
    """
    from tasks.pipelines.noop import NOOP_STAGES

    noop_id = "md5('bench-noop-' || g::text)"
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'jobs'")
    present = {row[0] for row in cur.fetchall()}
    extra = [name for name in OPTIONAL_COLUMNS if name in present]
    params = {"user": user_id, "first": first, "last": first + count - 1}
    cur.execute(
        f"""
        INSERT INTO jobs (id, user_id, kind, status, progress, message, priority, input,
                          last_seq, created_at, updated_at{"".join(", " + n for n in extra)})
        SELECT {noop_id}, %(user)s, 'noop', 'pending', 0, 'Waiting for a worker', 'high',
               '{{}}'::jsonb, 1, now(), now(){", now()" * len(extra)}
        FROM generate_series(%(first)s, %(last)s) AS g
        """,
        params,
    )
    stages = ", ".join(f"({i}, '{stage.name}')" for i, stage in enumerate(NOOP_STAGES))
    cur.execute(
        f"""
        INSERT INTO job_stages (job_id, position, name, status, attempts)
        SELECT {noop_id}, s.position, s.name, 'pending', 0
        FROM generate_series(%(first)s, %(last)s) AS g
        CROSS JOIN (VALUES {stages}) AS s(position, name)
        """,
        params,
    )
    cur.execute(
        f"""
        INSERT INTO job_events (job_id, seq, type, data)
        SELECT {noop_id}, 1, 'status', '{{"status": "pending", "stage": null, "progress": 0,
               "message": "Waiting for a worker"}}'::jsonb
        FROM generate_series(%(first)s, %(last)s) AS g
        """,
        params,
    )
    cur.execute(f"SELECT {noop_id} FROM generate_series(%(first)s, %(last)s) AS g", params)
    return [row[0] for row in cur.fetchall()]
