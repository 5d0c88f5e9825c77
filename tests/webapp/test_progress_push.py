"""POST /api/v1/jobs/{id}/progress: a shared secret in a header; a bad push changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tasks.db import db
from tasks.models import Job, JobEvent
from webapp.api import progress

SECRET = "test-progress-push-secret"  # PROGRESS_PUSH_SECRET in tests/conftest.py
GOOD = {"X-Progress-Secret": SECRET}


def _state(app: Any, job_id: str) -> tuple[Any, ...]:
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job is not None
        events = db.session.execute(
            db.select(db.func.count()).select_from(JobEvent).where(JobEvent.job_id == job_id)
        ).scalar()
        return job.status, job.stage, job.progress, job.message, events


def test_a_push_with_the_secret_sets_progress_stage_and_message(
    app: Any, client: Any, insert_job: Callable[..., str]
) -> None:
    job_id = insert_job(status="processing")
    body = {"progress": 40, "stage": "generate", "message": "Rendering 2 of 5"}
    response = client.post(f"/api/v1/jobs/{job_id}/progress", json=body, headers=GOOD)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"id": job_id, "status": "processing", **body}
    assert _state(app, job_id) == ("processing", "generate", 40, "Rendering 2 of 5", 2)
    only_progress = client.post(
        f"/api/v1/jobs/{job_id}/progress", json={"progress": 55}, headers=GOOD
    )
    assert only_progress.get_json()["progress"] == 55
    assert _state(app, job_id) == ("processing", "generate", 55, "Rendering 2 of 5", 3)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Progress-Secret": ""},
        {"X-Progress-Secret": "wrong"},
        {"X-Progress-Secret": SECRET + "x"},
        {"Authorization": f"Bearer {SECRET}"},
    ],
)
def test_a_missing_or_wrong_secret_is_401_and_changes_nothing(
    app: Any, client: Any, insert_job: Callable[..., str], headers: dict[str, str]
) -> None:
    job_id = insert_job(status="processing")
    before = _state(app, job_id)
    response = client.post(
        f"/api/v1/jobs/{job_id}/progress", json={"progress": 90}, headers=headers
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert _state(app, job_id) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"progress": 101}, "progress"),
        ({"progress": -1}, "progress"),
        ({"progress": "50"}, "progress"),
        ({"stage": "upscale"}, "stage"),
        ({"message": "x" * 501}, "message"),
        ({"status": "completed"}, "status"),
        ({}, "progress"),
    ],
)
def test_a_bad_body_is_422_naming_the_field(
    app: Any, client: Any, insert_job: Callable[..., str], body: dict[str, Any], field: str
) -> None:
    job_id = insert_job(status="processing")
    before = _state(app, job_id)
    response = client.post(f"/api/v1/jobs/{job_id}/progress", json=body, headers=GOOD)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field
    assert _state(app, job_id) == before


@pytest.mark.parametrize("status", ["pending", "completed", "failed", "canceled"])
def test_a_job_that_is_not_processing_is_409_and_stays_as_it_is(
    app: Any, client: Any, insert_job: Callable[..., str], status: str
) -> None:
    job_id = insert_job(status=status)
    before = _state(app, job_id)
    response = client.post(f"/api/v1/jobs/{job_id}/progress", json={"progress": 10}, headers=GOOD)
    assert response.status_code == 409
    assert _state(app, job_id) == before


def test_an_unknown_job_is_404(client: Any) -> None:
    response = client.post("/api/v1/jobs/nope/progress", json={"progress": 10}, headers=GOOD)
    assert response.status_code == 404


def test_with_no_secret_configured_the_endpoint_is_off(
    app: Any, client: Any, insert_job: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(progress, "push_secret", lambda: None)
    job_id = insert_job(status="processing")
    before = _state(app, job_id)
    response = client.post(f"/api/v1/jobs/{job_id}/progress", json={"progress": 10}, headers=GOOD)
    assert response.status_code == 404
    assert "PROGRESS_PUSH_SECRET" in response.get_json()["error"]["message"]
    assert _state(app, job_id) == before


@pytest.mark.timeout(60)
def test_pushes_during_a_real_run_never_break_the_job(
    client: Any,
    auth: dict[str, str],
    fake_provider: Any,
    celery_session_worker: Any,
    wait_for_job: Callable[..., Any],
) -> None:
    fake_provider.set_delay("images/generations", 1.5)
    body = {"kind": "image", "input": {"prompt": "a slow lighthouse", "size": "256x256"}}
    job_id = client.post("/api/v1/jobs", json=body, headers=auth).get_json()["id"]
    wait_for_job(job_id, auth, statuses=("processing",))
    pushed = client.post(
        f"/api/v1/jobs/{job_id}/progress", json={"progress": 50, "message": "halfway"}, headers=GOOD
    )
    assert pushed.status_code == 200
    bad = client.post(f"/api/v1/jobs/{job_id}/progress", json={"progress": 500}, headers=GOOD)
    assert bad.status_code == 422
    job = wait_for_job(job_id, auth)
    assert (job["status"], job["progress"], job["message"]) == ("completed", 100, "Completed")
    late = client.post(f"/api/v1/jobs/{job_id}/progress", json={"progress": 10}, headers=GOOD)
    assert late.status_code == 409
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "completed"
