"""Bare web baselines, served by the same gunicorn flags: `bench.bare_web:create_app()`.

`POST /bare/jobs` does one INSERT and one LPUSH and nothing else (no auth, no
validation beyond JSON); `GET /bare/jobs/<id>` does one SELECT by primary key on
the real `jobs` table. Connections come from a psycopg2 pool (like SQLAlchemy's
pool in the app), so a request never pays for a new connection.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from flask import Flask, Response, jsonify, request
from psycopg2.pool import ThreadedConnectionPool
from sqlalchemy.engine import make_url

from config import service_urls

BARE_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS bench_bare_jobs (
    id varchar(32) PRIMARY KEY,
    kind varchar(32) NOT NULL,
    input jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
"""The table the bare submit inserts into (created by the scenario, not by migrations)."""

POOL_SIZE = 20
"""Connections per process at most: SQLAlchemy's default pool_size 10 + max_overflow 10."""

BARE_QUEUE = "bench:bare:queue"
"""The Redis list the bare submit pushes onto."""

JOB_COLUMNS = (
    "id, kind, status, stage, progress, message, priority, input, result, error, "
    "created_at, started_at, finished_at, updated_at"
)


def create_app() -> Flask:
    """The bare app: two routes and a health check."""
    database_url, redis_url = service_urls()
    url = make_url(database_url)
    pool = ThreadedConnectionPool(
        1, POOL_SIZE, host=url.host, port=url.port, user=url.username, dbname=url.database
    )
    broker = redis.Redis.from_url(redis_url)
    app = Flask(__name__)

    @contextmanager
    def cursor() -> Iterator[Any]:
        conn = pool.getconn()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                yield cur
        finally:
            pool.putconn(conn)

    @app.get("/healthz")
    def healthz() -> Response:
        """The process is up."""
        return jsonify(status="ok")

    @app.post("/bare/jobs")
    def bare_submit() -> tuple[Response, int]:
        """One INSERT, one LPUSH.

        Request:  {"kind": "noop", "input": {}}
        Response: 202 {"id": "3f2a...", "status": "pending"}
        """
        body = request.get_json()
        job_id = uuid.uuid4().hex
        with cursor() as cur:
            cur.execute(
                "INSERT INTO bench_bare_jobs (id, kind, input) VALUES (%s, %s, %s)",
                (job_id, body["kind"], json.dumps(body["input"])),
            )
        broker.lpush(BARE_QUEUE, job_id)
        return jsonify(id=job_id, status="pending"), 202

    @app.get("/bare/jobs/<job_id>")
    def bare_read(job_id: str) -> tuple[Response, int]:
        """One SELECT by primary key.

        Response: 200 {"id": "3f2a...", "status": "completed", ...}
        """
        with cursor() as cur:
            cur.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
            row = cur.fetchone()
            names = [column.name for column in cur.description]
        if row is None:
            return jsonify(error="not found"), 404
        return jsonify(
            {
                k: v.isoformat() if hasattr(v, "isoformat") else v
                for k, v in zip(names, row, strict=True)
            }
        ), 200

    return app
