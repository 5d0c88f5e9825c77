"""/api/v1/me and the browser session: a cookie may read, never write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def test_me_names_the_caller_and_their_lanes(
    client: Any, make_user: Callable[..., tuple[int, str]]
) -> None:
    _, key = make_user("vic", tier="vip")
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"}).get_json()
    assert me == {"name": "vic", "tier": "vip", "priorities": ["high", "default", "low"]}


def test_a_session_cookie_reads_but_cannot_write(client: Any, auth: dict[str, str]) -> None:
    assert client.get("/api/v1/jobs").status_code == 401
    started = client.post("/api/v1/session", headers=auth)
    assert started.status_code == 200
    assert "HttpOnly" in started.headers["Set-Cookie"]
    assert client.get("/api/v1/jobs").status_code == 200
    assert client.get("/api/v1/me").get_json()["name"] == "alice"
    body = {"kind": "image", "input": {"prompt": "x"}}
    assert client.post("/api/v1/jobs", json=body).status_code == 401
    assert client.delete("/api/v1/session").status_code == 204
    assert client.get("/api/v1/jobs").status_code == 401


def test_a_bad_bearer_key_is_not_rescued_by_the_cookie(client: Any, auth: dict[str, str]) -> None:
    client.post("/api/v1/session", headers=auth)
    assert (
        client.get("/api/v1/jobs", headers={"Authorization": "Bearer gj_wrong"}).status_code == 401
    )
