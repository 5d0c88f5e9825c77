"""POST /api/v1/callbacks/{provider}/{token}: signed provider callbacks wake parked stages."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import CALLBACK_SECRET

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(60)]


def _signed(payload: dict[str, Any], secret: str = CALLBACK_SECRET) -> tuple[str, dict[str, str]]:
    body = json.dumps(payload)
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(tz=UTC)
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "Content-Type": "application/json",
    }
    return body, headers


def _stage(job_id: str) -> dict[str, Any]:
    from tasks.db import db
    from tasks.models import JobStage

    row = db.session.execute(
        db.select(JobStage).where(JobStage.job_id == job_id, JobStage.name == "generate")
    ).scalar_one()
    state = {
        "status": row.status,
        "token": row.callback_token,
        "provider_job_id": row.provider_job_id,
        "attempts": row.attempts,
    }
    db.session.commit()
    return state


@pytest.fixture
def parked_job(
    app: Any,
    client: Any,
    auth: dict[str, str],
    background_provider: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[], str]:
    """Submit an image job and wait until its generate stage is parked on the provider.

    Polls are 30 s apart here, so only a callback can finish the job within a test.
    """
    from dataclasses import replace

    from config import get_settings
    from tasks import provider_jobs

    slow = replace(get_settings(), provider_poll_interval_s=30.0)
    monkeypatch.setattr(provider_jobs, "get_settings", lambda: slow)

    def park() -> str:
        body = {"kind": "image", "input": {"prompt": "a called-back picture", "size": "256x256"}}
        job_id = str(client.post("/api/v1/jobs", json=body, headers=auth).get_json()["id"])
        deadline = time.monotonic() + 20
        with app.app_context():
            while _stage(job_id)["status"] != "waiting":
                assert time.monotonic() < deadline, "the stage never parked"
                time.sleep(0.05)
        return job_id

    return park


def _stage_now(app: Any, job_id: str) -> dict[str, Any]:
    with app.app_context():
        return _stage(job_id)


def test_signed_callback_wakes_the_stage_once(
    app: Any,
    client: Any,
    auth: dict[str, str],
    background_provider: Any,
    parked_job: Callable[[], str],
    wait_for_job: Any,
) -> None:
    background_provider.background.pending_polls = 0
    job_id = parked_job()
    parked = _stage_now(app, job_id)
    body, headers = _signed(
        {"type": "response.completed", "data": {"id": parked["provider_job_id"]}}
    )

    started = time.monotonic()
    answer = client.post(f"/api/v1/callbacks/openai/{parked['token']}", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["job_id"] == job_id
    job = wait_for_job(job_id, auth, timeout_s=10)
    assert job["status"] == "completed" and time.monotonic() - started < 10  # not the 30 s poll
    assert _stage_now(app, job_id)["attempts"] == 1

    retrievals = len(background_provider.calls(parked["provider_job_id"]))
    again = client.post(f"/api/v1/callbacks/openai/{parked['token']}", data=body, headers=headers)
    assert (again.status_code, again.get_json()["accepted"]) == (200, False)
    time.sleep(0.5)
    assert len(background_provider.calls(parked["provider_job_id"])) == retrievals
    assert wait_for_job(job_id, auth)["status"] == "completed"


def test_fixed_url_callbacks_find_the_stage_by_provider_job_id(
    app: Any,
    client: Any,
    auth: dict[str, str],
    background_provider: Any,
    parked_job: Any,
    wait_for_job: Any,
) -> None:
    background_provider.background.pending_polls = 0
    job_id = parked_job()
    provider_job_id = _stage_now(app, job_id)["provider_job_id"]
    body, headers = _signed({"type": "response.completed", "data": {"id": provider_job_id}})

    answer = client.post("/api/v1/callbacks/openai/project-webhook", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()
    assert wait_for_job(job_id, auth, timeout_s=10)["status"] == "completed"


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "changed body", "no signature", "old timestamp", "garbage signature"],
)
def test_a_bad_signature_is_401_and_changes_nothing(
    app: Any, client: Any, background_provider: Any, parked_job: Any, tamper: str
) -> None:
    background_provider.background.pending_polls = 0
    job_id = parked_job()
    before = _stage_now(app, job_id)
    payload = {"type": "response.completed", "data": {"id": before["provider_job_id"]}}
    secret = (
        "whsec_" + "b3RoZXItc2VjcmV0LW9mLWVub3VnaC1sZW5ndGg="
        if tamper == "wrong secret"
        else CALLBACK_SECRET
    )
    body, headers = _signed(payload, secret)
    if tamper == "changed body":
        body = body.replace("response.completed", "response.failed")
    if tamper == "no signature":
        del headers["webhook-signature"]
    if tamper == "old timestamp":
        headers["webhook-timestamp"] = str(int(time.time()) - 3600)
    if tamper == "garbage signature":
        headers["webhook-signature"] = "not-a-signature"
    calls_before = len(background_provider.requests)

    answer = client.post(f"/api/v1/callbacks/openai/{before['token']}", data=body, headers=headers)
    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "invalid_signature"
    time.sleep(0.5)
    assert _stage_now(app, job_id) == before
    assert len(background_provider.requests) == calls_before  # nobody asked the provider


def test_callbacks_for_canceled_or_unknown_jobs_change_nothing(
    app: Any, client: Any, auth: dict[str, str], background_provider: Any, parked_job: Any
) -> None:
    job_id = parked_job()
    parked = _stage_now(app, job_id)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
    body, headers = _signed(
        {"type": "response.completed", "data": {"id": parked["provider_job_id"]}}
    )
    calls_before = len(background_provider.requests)

    late = client.post(f"/api/v1/callbacks/openai/{parked['token']}", data=body, headers=headers)
    unknown = client.post(
        "/api/v1/callbacks/openai/no-such-token", data=_signed({})[0], headers=_signed({})[1]
    )
    assert (late.status_code, late.get_json()["accepted"]) == (200, False)
    assert (unknown.status_code, unknown.get_json()["accepted"]) == (200, False)
    time.sleep(0.5)
    assert len(background_provider.requests) == calls_before
    job = client.get(f"/api/v1/jobs/{job_id}", headers=auth).get_json()
    assert job["status"] == "canceled"


def test_a_callback_naming_another_provider_job_is_refused(
    app: Any, client: Any, background_provider: Any, parked_job: Any
) -> None:
    job_id = parked_job()
    parked = _stage_now(app, job_id)
    body, headers = _signed({"type": "response.completed", "data": {"id": "resp_someone_else"}})

    answer = client.post(f"/api/v1/callbacks/openai/{parked['token']}", data=body, headers=headers)
    assert answer.status_code == 422 and answer.get_json()["error"]["field"] == "data.id"
    assert _stage_now(app, job_id) == parked


def test_callbacks_from_a_provider_not_in_use_are_404(client: Any) -> None:
    body, headers = _signed({"type": "response.completed", "data": {"id": "resp_1"}})
    answer = client.post("/api/v1/callbacks/replicate/some-token", data=body, headers=headers)
    assert answer.status_code == 404 and answer.get_json()["error"]["code"] == "not_found"
