"""`flask users create NAME [--tier vip]` prints a working API key as its last line."""

from __future__ import annotations

from typing import Any


def test_users_create_prints_a_working_key(runner: Any, client: Any) -> None:
    result = runner.invoke(args=["users", "create", "carol", "--tier", "vip"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("gj_")
    response = client.post(
        "/api/v1/jobs",
        json={"kind": "image", "input": {"prompt": "x"}, "priority": "high"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 202


def test_users_create_refuses_a_duplicate_and_a_bad_tier(runner: Any) -> None:
    assert runner.invoke(args=["users", "create", "dave"]).exit_code == 0
    duplicate = runner.invoke(args=["users", "create", "dave"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    assert runner.invoke(args=["users", "create", "erin", "--tier", "gold"]).exit_code != 0


def test_new_key_adds_a_second_key(runner: Any, client: Any) -> None:
    first = runner.invoke(args=["users", "create", "frank"]).output.strip().splitlines()[-1]
    second = runner.invoke(args=["users", "new-key", "frank"]).output.strip().splitlines()[-1]
    assert first != second
    for key in (first, second):
        assert (
            client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {key}"}).status_code
            == 200
        )
