"""Provider-async stages: a provider job is polled with countdowns, never by a waiting worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(90)]

WORKER_THREADS = 4
"""The in-process worker's concurrency (tests/conftest.py)."""


def _submit(client: Any, auth: dict[str, str], prompt: str) -> str:
    body = {"kind": "image", "input": {"prompt": prompt, "size": "256x256"}}
    response = client.post("/api/v1/jobs", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


def _generate_row(job_id: str) -> Any:
    from tasks.db import db
    from tasks.models import JobStage

    row = db.session.execute(
        select(JobStage).where(JobStage.job_id == job_id, JobStage.name == "generate")
    ).scalar_one()
    db.session.commit()
    return row


def _wait_until(predicate: Callable[[], bool], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_polled_provider_job_completes_with_one_submission_and_countdown_polls(
    client: Any, auth: dict[str, str], background_provider: Any, wait_for_job: Any
) -> None:
    background_provider.background.pending_polls = 2
    job = wait_for_job(_submit(client, auth, "a lighthouse polled"), auth)

    assert job["status"] == "completed", job
    generate = next(s for s in job["stages"] if s["name"] == "generate")
    assert generate["attempts"] == 1
    assert len(background_provider.calls("/responses")) == 1  # one paid submission
    polls = [r for r in background_provider.requests if r["path"].startswith("/v1/responses/")]
    assert len(polls) == 3  # pending, pending, done
    gaps = [b["t"] - a["t"] for a, b in zip(polls, polls[1:], strict=False)]
    assert min(gaps) >= 0.25  # PROVIDER_POLL_INTERVAL_S=0.3: countdowns, not a busy loop
    with client.get(job["result"]["artifacts"][0]["url"], headers=auth) as png:
        assert png.status_code == 200 and png.data.startswith(b"\x89PNG")


def test_parked_stages_hold_no_worker_slot(
    client: Any, make_user: Any, background_provider: Any, wait_for_job: Any
) -> None:
    from tasks.db import db
    from tasks.models import JobStage

    _, key = make_user("many-parked", tier="vip")  # a vip may have 16 jobs in flight
    auth = {"Authorization": f"Bearer {key}"}
    background_provider.background.pending_polls = 12  # ~4 s of polling per job
    job_ids = [_submit(client, auth, f"parked {n}") for n in range(2 * WORKER_THREADS)]

    def waiting_now() -> int:
        count = db.session.execute(
            select(JobStage.id).where(JobStage.job_id.in_(job_ids), JobStage.status == "waiting")
        ).all()
        db.session.commit()
        return len(count)

    # More stages wait on the provider at once than the worker has threads.
    _wait_until(lambda: waiting_now() > WORKER_THREADS)
    for job_id in job_ids:
        assert wait_for_job(job_id, auth, timeout_s=40)["status"] == "completed"


def test_provider_job_failure_fails_the_job_with_the_providers_reason(
    client: Any, auth: dict[str, str], background_provider: Any, wait_for_job: Any
) -> None:
    background_provider.background.pending_polls = 1
    background_provider.background.fail_with = ("invalid_prompt", "the prompt was refused")
    job = wait_for_job(_submit(client, auth, "a refused picture"), auth)

    assert job["status"] == "failed", job
    assert "the prompt was refused" in job["error"]["message"]
    assert len(background_provider.calls("/responses")) == 1  # permanent: not resubmitted


def test_cancel_ends_a_parked_stage_and_later_polls_change_nothing(
    client: Any, auth: dict[str, str], background_provider: Any, wait_for_job: Any
) -> None:
    background_provider.background.pending_polls = 1000
    job_id = _submit(client, auth, "a long provider job")
    _wait_until(lambda: _generate_row(job_id).status == "waiting")

    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
    job = wait_for_job(job_id, auth)
    row = _generate_row(job_id)
    assert (job["status"], row.status, row.callback_token) == ("canceled", "canceled", None)
    polls_then = len(background_provider.requests)
    time.sleep(1.0)  # a poll sent before the cancel may still arrive: it must not ask again
    assert len(background_provider.requests) <= polls_then + 1
    assert wait_for_job(job_id, auth)["status"] == "canceled"


def test_reconciler_resends_a_lost_poll(
    client: Any,
    auth: dict[str, str],
    background_provider: Any,
    wait_for_job: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tasks import runner
    from tasks.db import db
    from tasks.maintenance import reconcile_stages
    from tasks.models import JobStage

    sent_polls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(runner, "send_poll", lambda *args, **_: sent_polls.append(args))
    background_provider.background.pending_polls = 0
    job_id = _submit(client, auth, "a lost poll")
    _wait_until(lambda: len(sent_polls) == 1)  # ...and it never reached the broker
    assert _generate_row(job_id).status == "waiting"

    db.session.execute(  # long past its due time, as after a Redis restart
        update(JobStage)
        .where(JobStage.job_id == job_id, JobStage.name == "generate")
        .values(poll_at=JobStage.poll_at - timedelta(hours=1))
    )
    db.session.commit()
    assert reconcile_stages() >= 1
    assert wait_for_job(job_id, auth)["status"] == "completed"


def test_callbacks_before_the_result_do_not_start_more_poll_chains(
    client: Any, auth: dict[str, str], background_provider: Any
) -> None:
    from tests.webapp.test_callbacks import _signed

    background_provider.background.pending_polls = 1000
    job_id = _submit(client, auth, "a job that takes its time")
    _wait_until(lambda: _generate_row(job_id).status == "waiting")
    row = _generate_row(job_id)
    for _ in range(3):  # each wakes one extra poll, which finds the provider still busy
        body, headers = _signed(
            {"type": "response.in_progress", "data": {"id": row.provider_job_id}}
        )
        answer = client.post(
            f"/api/v1/callbacks/openai/{row.callback_token}", data=body, headers=headers
        )
        assert answer.status_code == 202
    time.sleep(1.0)

    def retrievals() -> int:
        return len(background_provider.calls(row.provider_job_id))

    before = retrievals()
    time.sleep(3.0)
    # One chain polls every 0.3-1.1 s here (a quarter of the time waited): at most ~10
    # in 3 s. Four chains side by side would make 20 or more.
    assert retrievals() - before <= 10
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
