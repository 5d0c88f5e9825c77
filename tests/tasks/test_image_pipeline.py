"""Image jobs through a real Celery worker, with the local provider and the openai one."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from PIL import Image

from tests.fake_openai import prompt_colour

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(60)]


def _submit(client: Any, headers: dict[str, str], prompt: str, **extra: Any) -> str:
    body = {"kind": "image", "input": {"prompt": prompt, "size": "256x256", **extra}}
    response = client.post("/api/v1/jobs", json=body, headers=headers)
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


def _png(client: Any, url: str, headers: dict[str, str]) -> Image.Image:
    with client.get(url, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        return Image.open(io.BytesIO(response.data))


def test_local_job_completes_with_timed_stages_and_owner_only_png(
    client: Any, make_user: Callable[..., tuple[int, str]], wait_for_job: Callable[..., Any]
) -> None:
    _, key = make_user("alice")
    _, other = make_user("mallory")
    auth = {"Authorization": f"Bearer {key}"}
    job = wait_for_job(_submit(client, auth, "a red lighthouse at dusk"), auth)

    assert job["status"] == "completed", job
    assert (job["progress"], job["message"], job["error"]) == (100, "Completed", None)
    assert job["result"]["provider"] == "local"
    for stage in job["stages"]:
        assert stage["status"] == "completed" and stage["attempts"] == 1
        assert datetime.fromisoformat(stage["started_at"]) <= datetime.fromisoformat(
            stage["finished_at"]
        )
    starts = [s["started_at"] for s in job["stages"]]
    assert starts == sorted(starts)

    artifacts = {a["name"]: a for a in job["result"]["artifacts"]}
    assert set(artifacts) == {"image.png", "thumbnail.png"}
    image = _png(client, artifacts["image.png"]["url"], auth)
    assert image.size == (256, 256)
    assert max(_png(client, artifacts["thumbnail.png"]["url"], auth).size) <= 256
    with client.get(artifacts["image.png"]["url"] + "?download=1", headers=auth) as download:
        disposition = download.headers["Content-Disposition"]
        assert disposition == f"attachment; filename=image-{job['id'][:8]}-image.png"
    stranger = client.get(
        artifacts["image.png"]["url"], headers={"Authorization": f"Bearer {other}"}
    )
    assert stranger.status_code == 404
    assert (
        client.get(f"/api/v1/jobs/{job['id']}/artifacts/generated.png", headers=auth).status_code
        == 404
    )


def test_local_images_depend_on_the_prompt(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    jobs = [wait_for_job(_submit(client, auth, p), auth) for p in ("a cat", "a dog", "a cat")]
    pixels = [
        _png(client, job["result"]["artifacts"][0]["url"], auth).convert("RGB").getpixel((128, 250))
        for job in jobs
    ]
    assert pixels[0] == pixels[2]
    assert pixels[0] != pixels[1]


def test_events_record_every_change_in_order(
    app: Any, client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    from tasks.db import db
    from tasks.models import JobEvent

    job = wait_for_job(_submit(client, auth, "events"), auth)
    with app.app_context():
        events = (
            db.session.execute(
                db.select(JobEvent).where(JobEvent.job_id == job["id"]).order_by(JobEvent.seq)
            )
            .scalars()
            .all()
        )
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    statuses = [e.data["status"] for e in events if e.type == "status"]
    assert statuses == ["pending", "processing", "completed"]
    assert {e.data["stage"] for e in events if e.type == "stage"} >= {"generate", "finalize"}
    progress = [e.data["progress"] for e in events]
    assert progress == sorted(progress) and progress[-1] == 100


def test_openai_job_uses_chat_then_images(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.chat_reply = "a tall red lighthouse on a cliff at dusk, oil painting"
    job = wait_for_job(_submit(client, auth, "red lighthouse", quality="low"), auth)

    assert job["status"] == "completed", job
    assert job["result"]["provider"] == "openai"
    assert job["result"]["prompt"] == fake_provider.chat_reply
    (chat,) = fake_provider.calls("chat/completions")
    assert chat["json"]["messages"][-1] == {"role": "user", "content": "red lighthouse"}
    assert chat["headers"]["authorization"] == "Bearer test-key"
    (images,) = fake_provider.calls("images/generations")
    assert images["json"]["prompt"] == fake_provider.chat_reply
    assert (images["json"]["size"], images["json"]["quality"]) == ("256x256", "low")
    image = _png(client, job["result"]["artifacts"][0]["url"], auth).convert("RGB")
    assert image.getpixel((5, 5)) == prompt_colour(fake_provider.chat_reply)


def test_provider_errors_are_retried_then_succeed(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.fail_next("images/generations", status=503, times=1)
    fake_provider.rate_limit_next("images/generations", retry_after_s=0.5, times=1)
    job = wait_for_job(_submit(client, auth, "flaky"), auth)

    assert job["status"] == "completed", job
    generate = next(s for s in job["stages"] if s["name"] == "generate")
    assert generate["attempts"] == 3
    assert len(fake_provider.calls("images/generations")) == 3
    assert len(fake_provider.calls("chat/completions")) == 1  # the finished stage is not redone


def test_content_rejection_fails_at_once_with_a_clear_error(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.reject_content_next("images/generations")
    job = wait_for_job(_submit(client, auth, "something forbidden"), auth)

    assert job["status"] == "failed"
    assert job["error"]["code"] == "content_rejected"
    assert job["error"]["retryable"] is False
    assert "rephrase" in job["error"]["message"]
    assert len(fake_provider.calls("images/generations")) == 1
    statuses = {s["name"]: s["status"] for s in job["stages"]}
    assert statuses == {"prepare": "completed", "generate": "failed", "finalize": "pending"}


def test_retries_stop_at_the_attempt_limit(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.fail_next("chat/completions", status=500, times=10)
    job = wait_for_job(_submit(client, auth, "always failing"), auth)

    assert job["status"] == "failed"
    assert job["error"] == {
        "code": "provider_unavailable",
        "message": "the provider failed (500)",
        "retryable": True,
    }
    assert job["stages"][0]["attempts"] == 3
    assert len(fake_provider.calls("chat/completions")) == 3
    assert fake_provider.calls("images/generations") == []


def test_a_provider_that_hangs_times_out_and_is_retried(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.hang_next("chat/completions", seconds=4)  # past the 3 s client timeout
    job = wait_for_job(_submit(client, auth, "slow start"), auth, timeout_s=30)

    assert job["status"] == "completed", job
    prepare = next(s for s in job["stages"] if s["name"] == "prepare")
    assert prepare["attempts"] == 2
    assert len(fake_provider.calls("chat/completions")) == 2
