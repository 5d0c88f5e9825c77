"""POST/GET /api/v1/jobs: validation, auth, isolation, listing. No worker runs here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

PROMPT = {"kind": "image", "input": {"prompt": "a red lighthouse"}}


def _submit(client: Any, headers: dict[str, str], body: Any = None) -> Any:
    return client.post("/api/v1/jobs", json=PROMPT if body is None else body, headers=headers)


def test_submit_answers_202_with_job_and_location(client: Any, auth: dict[str, str]) -> None:
    response = _submit(client, auth)
    assert response.status_code == 202
    job = response.get_json()
    assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    # A running worker may already have picked it up.
    assert job["status"] in ("pending", "processing")
    assert (job["kind"], job["priority"]) == ("image", "default")
    assert job["input"] == {"prompt": "a red lighthouse", "size": "1024x1024", "quality": "auto"}
    assert [s["name"] for s in job["stages"]] == ["prepare", "generate", "finalize"]
    expected = {"id", "kind", "status", "stage", "stages", "progress", "message", "queue_position",
                "eta_seconds", "priority", "input", "webhook", "result", "error", "attempts",
                "created_at", "started_at", "finished_at", "updated_at"}  # fmt: skip
    assert set(job) == expected


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"input": {"prompt": "x"}}, 422, "kind"),
        ({"kind": "video", "input": {"prompt": "x"}}, 422, "kind"),
        ({"kind": "image"}, 422, "input"),
        ({"kind": "image", "input": "a cat"}, 422, "input"),
        ({"kind": "image", "input": {}}, 422, "input.prompt"),
        ({"kind": "image", "input": {"prompt": "   "}}, 422, "input.prompt"),
        ({"kind": "image", "input": {"prompt": 42}}, 422, "input.prompt"),
        ({"kind": "image", "input": {"prompt": "x" * 4001}}, 422, "input.prompt"),
        ({"kind": "image", "input": {"prompt": "x", "size": "3x3"}}, 422, "input.size"),
        ({"kind": "image", "input": {"prompt": "x", "quality": "ultra"}}, 422, "input.quality"),
        ({"kind": "image", "input": {"prompt": "x", "seed": 1}}, 422, "input.seed"),
        ({**PROMPT, "colour": "red"}, 422, "colour"),
        ({**PROMPT, "priority": "urgent"}, 422, "priority"),
        ({**PROMPT, "priority": "high"}, 422, "priority"),
        ([1, 2, 3], 422, None),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: Any, auth: dict[str, str], body: Any, status: int, field: str | None
) -> None:
    response = _submit(client, auth, body)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_field"
    assert error.get("field") == field
    assert error["message"]


def test_a_body_that_is_not_json_is_400(client: Any, auth: dict[str, str]) -> None:
    response = client.post("/api/v1/jobs", data="prompt=cat", headers=auth)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    broken = client.post(
        "/api/v1/jobs", data="{not json", headers={**auth, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400


def test_too_large_a_body_is_413(client: Any, auth: dict[str, str], app: Any) -> None:
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post(
        "/api/v1/jobs", data=big, headers={**auth, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_vip_may_use_the_high_lane(client: Any, make_user: Callable[..., tuple[int, str]]) -> None:
    _, key = make_user("vera", tier="vip")
    response = _submit(client, {"Authorization": f"Bearer {key}"}, {**PROMPT, "priority": "high"})
    assert response.status_code == 202
    assert response.get_json()["priority"] == "high"


@pytest.mark.parametrize(
    "header", [None, "Bearer", "Bearer gj_wrong", "Basic Zm9vOmJhcg==", "gj_no_scheme"]
)
def test_missing_or_bad_key_is_401(client: Any, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    for response in (
        client.post("/api/v1/jobs", json=PROMPT, headers=headers),
        client.get("/api/v1/jobs", headers=headers),
        client.get("/api/v1/jobs/0123456789abcdef0123456789abcdef", headers=headers),
    ):
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_users_job_is_404(client: Any, make_user: Callable[..., tuple[int, str]]) -> None:
    _, alice = make_user("alice")
    _, bob = make_user("bob")
    job_id = _submit(client, {"Authorization": f"Bearer {alice}"}).get_json()["id"]
    as_bob = {"Authorization": f"Bearer {bob}"}
    assert client.get(f"/api/v1/jobs/{job_id}", headers=as_bob).status_code == 404
    assert (
        client.get(f"/api/v1/jobs/{job_id}/artifacts/image.png", headers=as_bob).status_code == 404
    )
    assert client.get("/api/v1/jobs", headers=as_bob).get_json()["data"] == []
    unknown = client.get("/api/v1/jobs/nope", headers=as_bob)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"


def test_a_pending_job_shows_its_queue_position(
    client: Any, make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("queued")
    auth = {"Authorization": f"Bearer {key}"}
    first, second = insert_job(user_id=user_id), insert_job(user_id=user_id)
    job = client.get(f"/api/v1/jobs/{second}", headers=auth).get_json()
    assert (job["status"], job["queue_position"]) == ("pending", 2)
    assert client.get(f"/api/v1/jobs/{first}", headers=auth).get_json()["queue_position"] == 1
    assert all(s["status"] == "pending" and s["attempts"] == 0 for s in job["stages"])


def test_get_sends_etag_and_304_and_a_poll_hint(
    client: Any, make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("poller")
    auth = {"Authorization": f"Bearer {key}"}
    job_id = insert_job(user_id=user_id)
    first = client.get(f"/api/v1/jobs/{job_id}", headers=auth)
    assert first.status_code == 200 and first.headers["Retry-After"] == "2"
    etag = first.headers["ETag"]
    again = client.get(f"/api/v1/jobs/{job_id}", headers={**auth, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get(f"/api/v1/jobs/{job_id}", headers={**auth, "If-None-Match": '"other"'})
    assert other.status_code == 200
    done = insert_job(status="completed", user_id=user_id)
    assert "Retry-After" not in client.get(f"/api/v1/jobs/{done}", headers=auth).headers


def test_list_filters_and_pages_through_own_jobs(
    client: Any, make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("lister")
    auth = {"Authorization": f"Bearer {key}"}
    ids = [insert_job(user_id=user_id) for _ in range(5)]
    failed = insert_job(status="failed", user_id=user_id)
    insert_job()  # someone else's
    seen: list[str] = []
    cursor = None
    while True:
        query = "/api/v1/jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(query, headers=auth).get_json()
        seen += [job["id"] for job in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed([*ids, failed]))
    pending = client.get("/api/v1/jobs?status=pending&kind=image", headers=auth).get_json()
    assert [job["id"] for job in pending["data"]] == list(reversed(ids))
    only_failed = client.get("/api/v1/jobs?status=failed", headers=auth).get_json()["data"]
    assert [job["id"] for job in only_failed] == [failed]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("kind=video", "kind"),
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("limit=ten", "limit"),
        ("cursor=%%%", "cursor"),
        ("cursor=bm90LWpzb24", "cursor"),
    ],
)
def test_bad_list_parameters_are_422(
    client: Any, auth: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/api/v1/jobs?{query}", headers=auth)
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == field


def test_unknown_routes_and_methods_answer_json(client: Any, auth: dict[str, str]) -> None:
    missing = client.get("/api/v1/nothing", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = client.delete("/api/v1/jobs", headers=auth)
    assert wrong.status_code == 405 and "error" in wrong.get_json()
