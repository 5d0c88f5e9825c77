"""Liveness, readiness, and 503 (not 500, not a hang) when a dependency is down."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


def test_healthz_and_readyz(client: Any) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_readyz_is_503_naming_a_dead_broker(make_app: Callable[..., Any]) -> None:
    app = make_app({"CELERY": {"broker_url": CLOSED_PORT_REDIS}})
    started = time.monotonic()
    response = app.test_client().get("/readyz")
    assert time.monotonic() - started < 10
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"] == "ok" and checks["broker"].startswith("error")


def test_a_dead_database_gives_503_quickly(make_app: Callable[..., Any]) -> None:
    app = make_app({"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg2://postgres@127.0.0.1:1/x"})
    started = time.monotonic()
    client = app.test_client()
    ready = client.get("/readyz")
    api = client.get("/api/v1/jobs", headers={"Authorization": "Bearer gj_x"})
    assert time.monotonic() - started < 10
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"].startswith("error")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "database_unavailable"
    assert api.headers["Retry-After"]
