"""Cancel, resume, and duplicate deliveries, through a real worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tasks.db import db
from tasks.enqueue import enqueue_stage
from tasks.models import Job, JobStage

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(60)]


def _submit(client: Any, auth: dict[str, str], prompt: str = "a lighthouse") -> str:
    body = {"kind": "image", "input": {"prompt": prompt, "size": "256x256"}}
    response = client.post("/api/v1/jobs", json=body, headers=auth)
    assert response.status_code == 202
    return str(response.get_json()["id"])


def _stage(job_id: str, name: str) -> JobStage:
    db.session.expire_all()
    return db.session.execute(
        db.select(JobStage).where(JobStage.job_id == job_id, JobStage.name == name)
    ).scalar_one()


def _wait_stage(job_id: str, name: str, status: str, timeout_s: float = 15) -> float:
    started = time.monotonic()
    while _stage(job_id, name).status != status:
        assert time.monotonic() - started < timeout_s, f"{name} never became {status}"
        time.sleep(0.02)
    db.session.commit()
    return time.monotonic() - started


def test_a_pending_job_is_canceled_at_once_and_never_runs(
    client: Any, make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("canceller")
    auth = {"Authorization": f"Bearer {key}"}
    job_id = insert_job(user_id=user_id)
    response = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    # Its first stage's message arrives late: nothing runs.
    enqueue_stage(job_id, "prepare", attempts=0, lane="default")
    time.sleep(0.5)
    stages = [_stage(job_id, name) for name in ("prepare", "generate", "finalize")]
    assert [(s.status, s.attempts) for s in stages] == [("canceled", 0)] * 3
    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"


def test_a_processing_job_stops_within_two_seconds_and_keeps_its_work(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.set_delay("images/generations", 4.0)
    job_id = _submit(client, auth)
    _wait_stage(job_id, "generate", "running")
    asked = time.monotonic()
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
    stopped_after_s = _wait_stage(job_id, "generate", "canceled", timeout_s=5)
    assert time.monotonic() - asked < 2.0, stopped_after_s

    job = client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()
    assert (job["status"], job["message"]) == ("canceled", "Canceled")
    assert [s["status"] for s in job["stages"]] == ["completed", "canceled", "canceled"]
    assert _stage(job_id, "prepare").output["prompt"]  # type: ignore[index]
    time.sleep(4.5)  # the abandoned provider call returns: its result is discarded
    assert _stage(job_id, "generate").status == "canceled"
    assert client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()["status"] == "canceled"


def test_retry_resumes_at_the_failed_stage_reusing_finished_ones(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.reject_content_next("images/generations")
    job_id = _submit(client, auth)
    assert wait_for_job(job_id, auth)["status"] == "failed"

    response = client.post(f"/api/v1/jobs/{job_id}/retry", headers=auth)
    assert response.status_code == 202
    assert (response.get_json()["stage"], response.get_json()["error"]) == ("generate", None)
    job = wait_for_job(job_id, auth)
    assert job["status"] == "completed", job
    attempts = {s["name"]: s["attempts"] for s in job["stages"]}
    assert attempts == {"prepare": 1, "generate": 2, "finalize": 1}
    assert len(fake_provider.calls("chat/completions")) == 1
    assert len(fake_provider.calls("images/generations")) == 2


def test_a_canceled_job_can_be_retried_to_completion(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.set_delay("images/generations", 2.0)
    job_id = _submit(client, auth)
    _wait_stage(job_id, "generate", "running")
    client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
    fake_provider.set_delay("images/generations", 0.0)
    assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=auth).status_code == 202
    job = wait_for_job(job_id, auth)
    assert job["status"] == "completed", job
    assert len(fake_provider.calls("chat/completions")) == 1


def test_retry_and_cancel_refuse_the_wrong_states(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    job_id = _submit(client, auth)
    assert wait_for_job(job_id, auth)["status"] == "completed"
    for action in ("cancel", "retry"):
        response = client.post(f"/api/v1/jobs/{job_id}/{action}", headers=auth)
        assert response.status_code == 409, action
    assert client.post("/api/v1/jobs/nope/retry", headers=auth).status_code == 404


def test_the_same_stage_message_delivered_twice_runs_once(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any],
    insert_job: Callable[..., str], make_user: Callable[..., tuple[int, str]],
) -> None:  # fmt: skip
    user_id, key = make_user("twice")
    owner = {"Authorization": f"Bearer {key}"}
    job_id = insert_job(user_id=user_id)
    for _ in range(2):
        enqueue_stage(job_id, "prepare", attempts=0, lane="default")
    job = wait_for_job(job_id, owner)
    assert job["status"] == "completed"
    assert [s["attempts"] for s in job["stages"]] == [1, 1, 1]
    assert len(fake_provider.calls("chat/completions")) == 1
    assert len(fake_provider.calls("images/generations")) == 1
    assert db.session.get(Job, job_id) is not None
