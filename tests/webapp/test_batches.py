"""POST/GET /api/v1/batches: all or nothing, aggregated, canceled together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tasks.db import db
from tasks.models import Job

IMAGE = {"kind": "image", "input": {"prompt": "a cat", "size": "256x256"}}


def _job_count(app: Any) -> int:
    with app.app_context():
        return int(db.session.execute(db.select(db.func.count()).select_from(Job)).scalar_one())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "jobs"),
        ({"jobs": []}, "jobs"),
        ({"jobs": "x"}, "jobs"),
        ({"jobs": [IMAGE], "extra": 1}, "jobs"),
        ({"jobs": [IMAGE] * 501}, "jobs"),
        (
            {"jobs": [IMAGE, IMAGE, {"kind": "image", "input": {"prompt": ""}}]},
            "jobs[2].input.prompt",
        ),
        ({"jobs": [IMAGE, {"kind": "movie", "input": {}}]}, "jobs[1].kind"),
        ({"jobs": [IMAGE, 7]}, "jobs[1]"),
    ],
)
def test_an_invalid_batch_creates_nothing(
    app: Any, client: Any, auth: dict[str, str], body: Any, field: str
) -> None:
    response = client.post("/api/v1/batches", json=body, headers=auth)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["field"] == field
    assert _job_count(app) == 0


@pytest.mark.usefixtures("celery_session_worker")
@pytest.mark.timeout(60)
def test_a_batch_runs_and_reports_its_jobs_in_order(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    prompts = ["one", "two", "three"]
    body = {"jobs": [{"kind": "image", "input": {"prompt": p, "size": "256x256"}} for p in prompts]}
    response = client.post("/api/v1/batches", json=body, headers=auth)
    assert response.status_code == 202
    batch = response.get_json()
    assert response.headers["Location"] == f"/api/v1/batches/{batch['id']}"
    assert batch["total"] == 3 and len(batch["jobs"]) == 3
    for job in batch["jobs"]:
        wait_for_job(job["id"], auth)
    inputs = [
        client.get(j["url"], headers=auth).get_json()["input"]["prompt"] for j in batch["jobs"]
    ]
    assert inputs == prompts
    done = client.get(f"/api/v1/batches/{batch['id']}", headers=auth).get_json()
    assert (done["status"], done["progress"], done["counts"]) == (
        "completed",
        100,
        {"completed": 3},
    )


@pytest.mark.usefixtures("celery_session_worker")
@pytest.mark.timeout(60)
def test_canceling_a_batch_cancels_its_unfinished_jobs(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.set_delay("images/generations", 3.0)
    body = {"jobs": [IMAGE] * 6}
    batch = client.post("/api/v1/batches", json=body, headers=auth).get_json()
    canceled = client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=auth).get_json()
    assert canceled["counts"] == {"canceled": 6}
    assert canceled["status"] == "canceled"
    for job in batch["jobs"]:
        assert wait_for_job(job["id"], auth)["status"] == "canceled"


def test_another_users_batch_is_404(
    client: Any, auth: dict[str, str], make_user: Callable[..., tuple[int, str]]
) -> None:
    batch = client.post("/api/v1/batches", json={"jobs": [IMAGE]}, headers=auth).get_json()
    _, other = make_user("eve")
    as_eve = {"Authorization": f"Bearer {other}"}
    assert client.get(f"/api/v1/batches/{batch['id']}", headers=as_eve).status_code == 404
    assert client.post(f"/api/v1/batches/{batch['id']}/cancel", headers=as_eve).status_code == 404
