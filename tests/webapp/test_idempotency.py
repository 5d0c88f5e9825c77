"""Idempotency-Key on POST /jobs and /batches: one key, one set of jobs, for 24 hours."""

from __future__ import annotations

import threading
from typing import Any

import requests

from tasks.db import db
from tasks.models import IdempotencyKey, Job

BODY = {"kind": "image", "input": {"prompt": "only once"}}


def _jobs(app: Any) -> int:
    with app.app_context():
        return int(db.session.execute(db.select(db.func.count()).select_from(Job)).scalar_one())


def test_the_same_key_and_body_return_the_same_job(
    app: Any, client: Any, auth: dict[str, str]
) -> None:
    headers = {**auth, "Idempotency-Key": "order-42"}
    first = client.post("/api/v1/jobs", json=BODY, headers=headers)
    again = client.post("/api/v1/jobs", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _jobs(app) == 1


def test_the_same_key_with_another_body_is_409(app: Any, client: Any, auth: dict[str, str]) -> None:
    headers = {**auth, "Idempotency-Key": "order-43"}
    assert client.post("/api/v1/jobs", json=BODY, headers=headers).status_code == 202
    other = {"kind": "image", "input": {"prompt": "something else"}}
    conflict = client.post("/api/v1/jobs", json=other, headers=headers)
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "idempotency_conflict"
    assert _jobs(app) == 1


def test_keys_are_per_user_and_expire_after_a_day(
    app: Any, client: Any, auth: dict[str, str], make_user: Any
) -> None:
    headers = {**auth, "Idempotency-Key": "order-44"}
    first = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()["id"]
    _, bob = make_user("bob")
    bobs = client.post(
        "/api/v1/jobs",
        json=BODY,
        headers={"Authorization": f"Bearer {bob}", "Idempotency-Key": "order-44"},
    )
    assert bobs.get_json()["id"] != first
    with app.app_context():
        db.session.execute(
            db.update(IdempotencyKey).values(created_at=db.text("now() - interval '25 hours'"))
        )
        db.session.commit()
    later = client.post("/api/v1/jobs", json=BODY, headers=headers).get_json()["id"]
    assert later != first
    assert _jobs(app) == 3


def test_two_concurrent_requests_with_one_key_create_one_job(
    app: Any, live_server: str, auth: dict[str, str]
) -> None:
    barrier = threading.Barrier(4)
    ids: list[str] = []

    def post() -> None:
        barrier.wait()
        response = requests.post(
            f"{live_server}/api/v1/jobs",
            json=BODY,
            headers={**auth, "Idempotency-Key": "race"},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        ids.append(response.json()["id"])

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=15)
    assert len(ids) == 4 and len(set(ids)) == 1
    assert _jobs(app) == 1


def test_a_batch_is_replayed_whole(app: Any, client: Any, auth: dict[str, str]) -> None:
    headers = {**auth, "Idempotency-Key": "batch-1"}
    body = {"jobs": [BODY, BODY]}
    first = client.post("/api/v1/batches", json=body, headers=headers).get_json()
    again = client.post("/api/v1/batches", json=body, headers=headers)
    assert again.get_json()["id"] == first["id"]
    assert [j["id"] for j in again.get_json()["jobs"]] == [j["id"] for j in first["jobs"]]
    assert _jobs(app) == 2


def test_a_bad_key_is_422(client: Any, auth: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/jobs", json=BODY, headers={**auth, "Idempotency-Key": "k" * 256}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "Idempotency-Key"
