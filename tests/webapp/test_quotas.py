"""Quotas and rate limits on submit: 429 with Retry-After and RateLimit headers, held in Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tasks.db import db
from tasks.models import User
from webapp import quotas

BODY = {"kind": "image", "input": {"prompt": "x"}}


def _user_with(
    app: Any, make_user: Callable[..., tuple[int, str]], **limits: int
) -> dict[str, str]:
    user_id, key = make_user("limited")
    with app.app_context():
        db.session.execute(db.update(User).where(User.id == user_id).values(**limits))
        db.session.commit()
    return {"Authorization": f"Bearer {key}"}


def test_requests_per_minute_and_the_headers(app: Any, client: Any, make_user: Any) -> None:
    auth = _user_with(app, make_user, requests_per_minute=3)
    answers = [client.post("/api/v1/jobs", json=BODY, headers=auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    assert 0 < int(answers[0].headers["RateLimit-Reset"]) <= 60
    # A new limiter (as in another web process) sees the same counts: they live in Redis.
    quotas._limiter.cache_clear()
    refused = client.post("/api/v1/jobs", json=BODY, headers=auth)
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert "requests_per_minute" in refused.get_json()["error"]["message"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_jobs_per_day_counts_every_job_of_a_batch(app: Any, client: Any, make_user: Any) -> None:
    auth = _user_with(app, make_user, jobs_per_day=5)
    assert (
        client.post("/api/v1/batches", json={"jobs": [BODY] * 4}, headers=auth).status_code == 202
    )
    refused = client.post("/api/v1/batches", json={"jobs": [BODY] * 2}, headers=auth)
    assert refused.status_code == 429
    assert "jobs_per_day" in refused.get_json()["error"]["message"]
    assert int(refused.headers["Retry-After"]) > 0
    assert client.post("/api/v1/jobs", json=BODY, headers=auth).status_code == 202


def test_pending_jobs_are_capped(
    app: Any, client: Any, make_user: Any, insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("busy")
    with app.app_context():
        db.session.execute(db.update(User).where(User.id == user_id).values(max_pending=2))
        db.session.commit()
    insert_job(user_id=user_id)
    insert_job(user_id=user_id)
    refused = client.post("/api/v1/jobs", json=BODY, headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 429
    assert "2 pending" in refused.get_json()["error"]["message"]
    assert refused.headers["Retry-After"] == "30"


def test_tier_defaults_apply_without_overrides(client: Any, make_user: Any) -> None:
    _, vip = make_user("vip", tier="vip")
    _, std = make_user("std")
    vip_answer = client.post("/api/v1/jobs", json=BODY, headers={"Authorization": f"Bearer {vip}"})
    std_answer = client.post("/api/v1/jobs", json=BODY, headers={"Authorization": f"Bearer {std}"})
    assert int(vip_answer.headers["RateLimit-Limit"]) > int(std_answer.headers["RateLimit-Limit"])
