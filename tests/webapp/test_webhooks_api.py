"""The webhook API: per-job and default webhooks, the SSRF guard at submit, the signing secret."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tasks.webhook_outbox import EVENTS

IMAGE = {"kind": "image", "input": {"prompt": "a red lighthouse"}}
HOOK = "http://127.0.0.1:9/hooks"  # allow-listed in tests; nothing listens (no worker runs here)


def _submit(client: Any, auth: dict[str, str], webhook: Any) -> Any:
    return client.post("/api/v1/jobs", json={**IMAGE, "webhook": webhook}, headers=auth)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:8080/hooks",
        "http://[::1]/hooks",
        "http://192.168.1.20/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_private_loopback_and_link_local_targets_are_refused(
    client: Any, auth: dict[str, str], url: str
) -> None:
    response = _submit(client, auth, {"url": url})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == "webhook.url"
    assert "WEBHOOK_ALLOWED_HOSTS" in error["message"]
    batch = client.post(
        "/api/v1/batches", json={"jobs": [IMAGE, {**IMAGE, "webhook": {"url": url}}]}, headers=auth
    )
    assert batch.status_code == 422
    assert batch.get_json()["error"]["field"] == "jobs[1].webhook.url"
    assert client.get("/api/v1/jobs", headers=auth).get_json()["data"] == []
    default = client.put("/api/v1/webhooks/default", json={"url": url}, headers=auth)
    assert (default.status_code, default.get_json()["error"]["field"]) == (422, "url")


@pytest.mark.parametrize(
    ("webhook", "field"),
    [
        ({"url": "ftp://127.0.0.1/hooks"}, "webhook.url"),
        ({"url": "http://user:pw@127.0.0.1/hooks"}, "webhook.url"),
        ({"url": "/relative"}, "webhook.url"),
        ({"url": ""}, "webhook.url"),
        ({"events": ["job.completed"]}, "webhook.url"),
        ({"url": HOOK, "events": ["job.exploded"]}, "webhook.events.0"),
        ({"url": HOOK, "events": []}, "webhook.events"),
        ({"url": HOOK, "secret": "x"}, "webhook.secret"),
        ("http://127.0.0.1/hooks", "webhook"),
    ],
)
def test_bad_webhooks_name_their_field(
    client: Any, auth: dict[str, str], webhook: Any, field: str
) -> None:
    response = _submit(client, auth, webhook)
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["field"] == field


def test_a_job_carries_its_own_webhook_or_else_the_default(
    client: Any, auth: dict[str, str]
) -> None:
    no_hook = client.post("/api/v1/jobs", json=IMAGE, headers=auth).get_json()
    assert no_hook["webhook"] is None
    assert client.get("/api/v1/webhooks/default", headers=auth).status_code == 404

    put = client.put(
        "/api/v1/webhooks/default", json={"url": HOOK, "events": ["job.failed"]}, headers=auth
    )
    assert put.status_code == 200
    assert put.get_json() == {
        "url": HOOK,
        "events": ["job.failed"],
        "disabled_at": None,
        "disabled_reason": None,
    }
    assert client.get("/api/v1/webhooks/default", headers=auth).get_json() == put.get_json()
    inherited = client.post("/api/v1/jobs", json=IMAGE, headers=auth).get_json()
    assert inherited["webhook"] == {"url": HOOK, "events": ["job.failed"]}
    own = _submit(client, auth, {"url": "http://127.0.0.1:10/own"}).get_json()
    assert own["webhook"] == {"url": "http://127.0.0.1:10/own", "events": list(EVENTS)}

    assert client.delete("/api/v1/webhooks/default", headers=auth).status_code == 204
    assert client.get("/api/v1/webhooks/default", headers=auth).status_code == 404
    assert client.post("/api/v1/jobs", json=IMAGE, headers=auth).get_json()["webhook"] is None
    # A job keeps the webhook it was submitted with.
    job = client.get(f"/api/v1/jobs/{inherited['id']}", headers=auth).get_json()
    assert job["webhook"] == {"url": HOOK, "events": ["job.failed"]}


def test_the_signing_secret_is_stable_until_rotated(
    client: Any, auth: dict[str, str], make_user: Callable[..., tuple[int, str]]
) -> None:
    first = client.get("/api/v1/webhooks/default/secret", headers=auth).get_json()["key"]
    assert first.startswith("whsec_") and len(first) > 40
    assert client.get("/api/v1/webhooks/default/secret", headers=auth).get_json()["key"] == first
    _, other_key = make_user("bob")
    other = {"Authorization": f"Bearer {other_key}"}
    assert client.get("/api/v1/webhooks/default/secret", headers=other).get_json()["key"] != first
    rotated = client.post("/api/v1/webhooks/default/secret/rotate", headers=auth)
    assert rotated.status_code == 200
    assert rotated.get_json()["key"] != first
    assert (
        client.get("/api/v1/webhooks/default/secret", headers=auth).get_json()["key"]
        == (rotated.get_json()["key"])
    )


def test_webhook_routes_need_a_key_and_logs_are_owner_only(
    client: Any, auth: dict[str, str], make_user: Callable[..., tuple[int, str]]
) -> None:
    for method, path in [
        ("get", "/api/v1/webhooks/default"),
        ("put", "/api/v1/webhooks/default"),
        ("delete", "/api/v1/webhooks/default"),
        ("get", "/api/v1/webhooks/default/secret"),
        ("post", "/api/v1/webhooks/default/secret/rotate"),
    ]:
        assert getattr(client, method)(path).status_code == 401
    job_id = _submit(client, auth, {"url": HOOK}).get_json()["id"]
    log = client.get(f"/api/v1/jobs/{job_id}/webhooks", headers=auth)
    assert log.status_code == 200 and isinstance(log.get_json()["data"], list)
    _, other_key = make_user("mallory")
    stranger = client.get(
        f"/api/v1/jobs/{job_id}/webhooks", headers={"Authorization": f"Bearer {other_key}"}
    )
    assert stranger.status_code == 404
