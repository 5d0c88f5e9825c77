"""Webhooks out, end to end: real jobs on the in-process worker, a real receiver on loopback.

The receiver verifies every request with `standardwebhooks`, as a user's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client import REGISTRY
from standardwebhooks import Webhook, WebhookVerificationError

from tasks.webhook_accounts import new_secret
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(90)]


def submit(client: Any, auth: dict[str, str], webhook: dict[str, Any] | None = None) -> str:
    """Submit a small image job (with this webhook); returns its id."""
    body: dict[str, Any] = {"kind": "image", "input": {"prompt": "a lighthouse", "size": "256x256"}}
    if webhook is not None:
        body["webhook"] = webhook
    response = client.post("/api/v1/jobs", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


def settled_log(
    client: Any, auth: dict[str, str], job_id: str, count: int, timeout_s: float = 20
) -> list[dict[str, Any]]:
    """The job's delivery log once it has `count` deliveries and none is pending."""
    deadline = time.monotonic() + timeout_s
    while True:
        log: list[dict[str, Any]] = client.get(
            f"/api/v1/jobs/{job_id}/webhooks", headers=auth
        ).get_json()["data"]
        if len(log) >= count and all(d["status"] != "pending" for d in log):
            return log
        if time.monotonic() > deadline:
            raise AssertionError(f"delivery log not settled after {timeout_s} s: {log}")
        time.sleep(0.1)


def secret(client: Any, auth: dict[str, str]) -> str:
    """The user's signing secret."""
    return str(client.get("/api/v1/webhooks/default/secret", headers=auth).get_json()["key"])


def deliveries(outcome: str) -> float:
    """genjobs_webhook_deliveries_total{outcome} in this process (the worker runs in it)."""
    return REGISTRY.get_sample_value("genjobs_webhook_deliveries_total", {"outcome": outcome}) or 0


def test_a_job_sends_signed_stage_and_completion_events_that_verify(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    delivered_before = deliveries("delivered")
    with WebhookReceiver() as receiver:
        job_id = submit(client, auth, {"url": receiver.url})
        assert wait_for_job(job_id, auth)["status"] == "completed"
        received = receiver.wait_for(4)
        log = settled_log(client, auth, job_id, 4)
        time.sleep(0.5)
        assert len(receiver.requests) == 4  # nothing more than the four events

    hook = Webhook(secret(client, auth))
    events = sorted((hook.verify(r.body, r.headers) for r in received), key=_seq)
    assert [(e["type"], e["data"]["stage"]) for e in events] == [
        ("job.stage", "prepare"),
        ("job.stage", "generate"),
        ("job.stage", "finalize"),
        ("job.completed", "finalize"),
    ]
    assert {e["data"]["id"] for e in events} == {job_id}
    assert events[-1]["data"]["status"] == "completed" and events[-1]["data"]["progress"] == 100
    assert received[0].headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        hook.verify(received[0].body.replace(b"job.", b"jab."), received[0].headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(received[0].body, received[0].headers)

    assert {r.headers["webhook-id"] for r in received} == {d["id"] for d in log}
    for delivery in log:
        assert delivery["status"] == "delivered" and delivery["url"] == receiver.url
        [attempt] = delivery["attempts"]
        assert (attempt["attempt"], attempt["status_code"], attempt["error"]) == (1, 200, None)
        assert attempt["latency_ms"] >= 0 and attempt["next_attempt_at"] is None
    assert deliveries("delivered") - delivered_before == 4


def test_a_500_is_retried_and_the_log_shows_both_attempts(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    failed_before = deliveries("failed")
    with WebhookReceiver(500) as receiver:
        job_id = submit(client, auth, {"url": receiver.url, "events": ["job.completed"]})
        wait_for_job(job_id, auth)
        first, second = receiver.wait_for(2)
        [delivery] = settled_log(client, auth, job_id, 1)

    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery["id"]
    assert first.body == second.body
    hook = Webhook(secret(client, auth))
    assert hook.verify(second.body, second.headers)["type"] == "job.completed"
    assert delivery["status"] == "delivered"
    failed, succeeded = delivery["attempts"]
    assert (failed["attempt"], failed["status_code"], failed["error"]) == (1, 500, "HTTP 500")
    assert failed["next_attempt_at"] is not None
    assert (succeeded["attempt"], succeeded["status_code"]) == (2, 200)
    assert deliveries("failed") - failed_before == 1


def test_a_410_disables_the_endpoint_and_stops_all_deliveries(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    with WebhookReceiver(500, 410) as receiver:
        put = client.put(
            "/api/v1/webhooks/default",
            json={"url": receiver.url, "events": ["job.completed"]},
            headers=auth,
        )
        assert put.status_code == 200
        first_job = submit(client, auth)
        wait_for_job(first_job, auth)
        receiver.wait_for(2)
        [delivery] = settled_log(client, auth, first_job, 1)
        default = client.get("/api/v1/webhooks/default", headers=auth).get_json()
        second_job = submit(client, auth)
        assert client.get(f"/api/v1/jobs/{second_job}", headers=auth).get_json()["webhook"] is None
        wait_for_job(second_job, auth)
        time.sleep(1.5)  # past the next retry delay of the schedule
        assert len(receiver.requests) == 2

    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 410]
    assert delivery["attempts"][1]["next_attempt_at"] is None
    assert default["disabled_at"] is not None and "410" in default["disabled_reason"]
    assert client.get(f"/api/v1/jobs/{second_job}/webhooks", headers=auth).get_json()["data"] == []


def test_the_event_filter_chooses_what_is_sent(
    client: Any,
    auth: dict[str, str],
    fake_provider: Any,
    wait_for_job: Callable[..., Any],
) -> None:
    with WebhookReceiver() as receiver:
        stages_only = submit(client, auth, {"url": receiver.url, "events": ["job.stage"]})
        wait_for_job(stages_only, auth)
        finished_only = submit(
            client, auth, {"url": receiver.url, "events": ["job.failed", "job.canceled"]}
        )
        assert wait_for_job(finished_only, auth)["status"] == "completed"
        fake_provider.reject_content_next("images/generations")
        failing = submit(client, auth, {"url": receiver.url, "events": ["job.failed"]})
        assert wait_for_job(failing, auth)["status"] == "failed"
        received = receiver.wait_for(4)
        time.sleep(0.5)
        assert len(receiver.requests) == 4

    by_job: dict[str, list[str]] = {}
    for request in received:
        event = request.event
        by_job.setdefault(event["data"]["id"], []).append(event["type"])
    assert by_job == {stages_only: ["job.stage"] * 3, failing: ["job.failed"]}
    failed = next(r.event for r in received if r.event["type"] == "job.failed")
    assert failed["data"]["error"]["code"] == "content_rejected"


def test_a_rotated_secret_signs_with_both_keys_during_the_grace_period(
    app: Any, client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    old = secret(client, auth)
    rotated = client.post("/api/v1/webhooks/default/secret/rotate", headers=auth).get_json()
    new = rotated["key"]
    assert new != old and new.startswith("whsec_") and secret(client, auth) == new
    assert rotated["previous_key_expires_at"] is not None
    with WebhookReceiver() as receiver:
        wait_for_job(submit(client, auth, {"url": receiver.url, "events": ["job.completed"]}), auth)
        [during] = receiver.wait_for(1)
        _expire_previous_secrets(app)
        wait_for_job(submit(client, auth, {"url": receiver.url, "events": ["job.completed"]}), auth)
        _, after = receiver.wait_for(2)

    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for key in (old, new):
        assert Webhook(key).verify(during.body, during.headers)["type"] == "job.completed"
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


def _expire_previous_secrets(app: Any) -> None:
    from tasks.db import db

    with app.app_context():
        db.session.execute(
            db.text("UPDATE webhook_accounts SET previous_secret_expires_at = now()")
        )
        db.session.commit()


def _seq(event: dict[str, Any]) -> int:
    return int(event["data"]["seq"])
