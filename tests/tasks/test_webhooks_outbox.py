"""The outbox: a delivery row commits with its job event, and the sweep sends what was never sent;
deliveries re-check their target (DNS rebinding) and retention takes their rows with the job."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from standardwebhooks import Webhook

from tasks.db import db
from tasks.models import Job
from tasks.retention import delete_jobs
from tasks.states import PROCESSING, transition
from tasks.webhook_accounts import endpoint_id, ensure_account
from tasks.webhook_models import WebhookAttempt, WebhookDelivery
from tasks.webhooks import deliver_webhook, send_due_webhooks
from tests.tasks.test_webhooks import deliveries, settled_log
from tests.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(90)]


@pytest.fixture
def user(make_user: Callable[..., tuple[int, str]]) -> tuple[int, dict[str, str]]:
    """A user's id and Authorization headers."""
    user_id, key = make_user("hooked")
    return user_id, {"Authorization": f"Bearer {key}"}


def with_webhook(job_id: str, user_id: int, url: str, events: list[str]) -> None:
    """Give a job a webhook directly, as a submit would have copied it."""
    hook = {"endpoint_id": endpoint_id(user_id, url), "url": url, "events": events}
    db.session.execute(db.update(Job).where(Job.id == job_id).values(webhook=hook))
    db.session.commit()


def test_a_delivery_whose_send_failed_is_sent_by_the_sweep(
    app: Any,
    client: Any,
    make_app: Callable[..., Any],
    insert_job: Callable[..., str],
    user: tuple[int, dict[str, str]],
) -> None:
    user_id, auth = user
    down = make_app({"CELERY": {"broker_url": "redis://127.0.0.1:1/0"}})
    with WebhookReceiver() as receiver:
        job_id = insert_job(user_id=user_id)
        with_webhook(job_id, user_id, receiver.url, ["job.canceled"])
        # Committed with the cancel; the send after commit fails: the broker is down.
        assert down.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code
        pending = db.session.execute(
            db.select(WebhookDelivery.job_id, WebhookDelivery.event, WebhookDelivery.status)
        ).all()
        assert pending == [(job_id, "job.canceled", "pending")]
        time.sleep(1)
        assert receiver.requests == []
        assert send_due_webhooks() == 0  # not yet overdue: its message may still be on its way
        assert send_due_webhooks(grace_s=0) == 1
        [received] = receiver.wait_for(1)
        [delivery] = settled_log(client, auth, job_id, 1)

    event = Webhook(ensure_account(user_id).secret).verify(received.body, received.headers)
    assert (event["type"], event["data"]["status"]) == ("job.canceled", "canceled")
    assert delivery["status"] == "delivered"


def test_a_rolled_back_event_leaves_no_delivery(
    insert_job: Callable[..., str], user: tuple[int, dict[str, str]]
) -> None:
    user_id, _ = user
    job_id = insert_job(status=PROCESSING, user_id=user_id)
    with_webhook(job_id, user_id, "http://127.0.0.1:9/hooks", ["job.completed"])
    assert transition(job_id, PROCESSING, "completed", progress=100)
    assert db.session.execute(db.select(db.func.count()).select_from(WebhookDelivery)).scalar()
    db.session.rollback()
    assert db.session.execute(db.select(db.func.count()).select_from(WebhookDelivery)).scalar() == 0


def test_a_host_that_resolves_to_loopback_at_delivery_is_refused(
    client: Any, insert_job: Callable[..., str], user: tuple[int, dict[str, str]]
) -> None:
    user_id, auth = user
    refused_before = deliveries("refused")
    with WebhookReceiver() as receiver:
        # As if the name pointed elsewhere at submit and was re-pointed (rebinding):
        # `localhost` is not allow-listed, and resolves to 127.0.0.1 now.
        url = f"http://localhost:{receiver.port}/hooks"
        job_id = insert_job(user_id=user_id)
        with_webhook(job_id, user_id, url, ["job.canceled"])
        assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
        [delivery] = settled_log(client, auth, job_id, 1)
        time.sleep(1.5)  # no retry comes either
        assert receiver.requests == []

    assert delivery["status"] == "failed"
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and attempt["error"].startswith("refused: localhost")
    assert "127.0.0.1" in attempt["error"]
    assert deliveries("refused") - refused_before == 1


def test_retention_deletes_deliveries_with_their_job(
    client: Any, insert_job: Callable[..., str], user: tuple[int, dict[str, str]]
) -> None:
    user_id, auth = user
    with WebhookReceiver() as receiver:
        job_id = insert_job(user_id=user_id)
        with_webhook(job_id, user_id, receiver.url, ["job.canceled"])
        client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)
        settled_log(client, auth, job_id, 1)
    assert db.session.execute(db.select(db.func.count()).select_from(WebhookAttempt)).scalar() == 1
    assert delete_jobs([job_id]) == [job_id]
    db.session.commit()
    for table in (WebhookDelivery, WebhookAttempt):
        assert db.session.execute(db.select(db.func.count()).select_from(table)).scalar() == 0


def test_a_job_deleted_during_a_delivery_call_ends_it_quietly(
    app: Any,
    make_app: Callable[..., Any],
    insert_job: Callable[..., str],
    user: tuple[int, dict[str, str]],
) -> None:
    user_id, auth = user
    down = make_app({"CELERY": {"broker_url": "redis://127.0.0.1:1/0"}})
    with WebhookReceiver(delay_s=1.5) as receiver:
        job_id = insert_job(user_id=user_id)
        with_webhook(job_id, user_id, receiver.url, ["job.canceled"])
        down.test_client().post(f"/api/v1/jobs/{job_id}/cancel", headers=auth)  # not sent
        delivery_id = db.session.execute(db.select(WebhookDelivery.id)).scalar_one()
        outcome: list[Any] = []
        call = threading.Thread(target=lambda: outcome.append(deliver_webhook(delivery_id)))
        call.start()
        receiver.wait_for(1)
        assert delete_jobs([job_id]) == [job_id]  # retention, while the receiver answers
        call.join(timeout=20)
    assert outcome == ["delivered"]
    for table in (WebhookDelivery, WebhookAttempt):
        assert db.session.execute(db.select(db.func.count()).select_from(table)).scalar() == 0
