"""Operators' commands: `flask users ...`, `flask jobs ...` and `flask queues`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tasks.db import db
from tasks.models import ApiKey, Job, User
from tasks.pipelines import STAGE_NAMES
from tasks.queue_depths import QUEUES


def _ok(runner: Any, *args: str) -> str:
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return str(result.output)


def _user(app: Any, name: str) -> User:
    with app.app_context():
        user = db.session.execute(db.select(User).where(User.name == name)).scalar_one()
        db.session.expunge(user)
        return user


def test_users_admin_tier_and_list(app: Any, runner: Any) -> None:
    _ok(runner, "users", "create", "olga", "--admin")
    _ok(runner, "users", "create", "pete")
    assert _user(app, "olga").is_admin and not _user(app, "pete").is_admin
    _ok(runner, "users", "set-admin", "pete")
    _ok(runner, "users", "set-admin", "olga", "--off")
    assert _user(app, "pete").is_admin and not _user(app, "olga").is_admin
    _ok(runner, "users", "set-tier", "pete", "vip")
    assert _user(app, "pete").tier == "vip"
    listing = _ok(runner, "users", "list").splitlines()
    assert listing[0].split()[:4] == ["NAME", "TIER", "ADMIN", "KEYS"]
    assert listing[2].split()[:4] == ["pete", "vip", "yes", "1"]
    assert runner.invoke(args=["users", "set-tier", "nobody", "vip"]).exit_code != 0


def test_set_quota_overrides_and_resets_the_tier_limits(app: Any, runner: Any) -> None:
    _ok(runner, "users", "create", "quinn")
    _ok(runner, "users", "set-quota", "quinn", "--max-in-flight", "2", "--jobs-per-day", "50")
    user = _user(app, "quinn")
    assert (user.max_in_flight, user.jobs_per_day, user.max_pending) == (2, 50, None)
    _ok(runner, "users", "set-quota", "quinn", "--reset")
    user = _user(app, "quinn")
    assert (user.max_in_flight, user.jobs_per_day) == (None, None)
    assert runner.invoke(args=["users", "set-quota", "quinn"]).exit_code != 0
    assert runner.invoke(args=["users", "set-quota", "quinn", "--max-pending", "0"]).exit_code


def test_revoke_key_locks_the_user_out(app: Any, runner: Any, client: Any) -> None:
    first = _ok(runner, "users", "create", "rita").strip().splitlines()[-1]
    second = _ok(runner, "users", "new-key", "rita").strip().splitlines()[-1]
    me = "/api/v1/me"
    browser = app.test_client()
    started = browser.post("/api/v1/session", headers={"Authorization": f"Bearer {first}"})
    assert started.status_code == 200
    assert browser.get(me).status_code == 200
    _ok(runner, "users", "revoke-key", "rita", "--prefix", first[:10])
    assert browser.get(me).status_code == 401  # the key's browser session ended with it
    assert client.get(me, headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert client.get(me, headers={"Authorization": f"Bearer {second}"}).status_code == 200
    _ok(runner, "users", "revoke-key", "rita")
    assert client.get(me, headers={"Authorization": f"Bearer {second}"}).status_code == 401
    with app.app_context():
        active = db.select(ApiKey).where(ApiKey.revoked_at.is_(None))
        assert db.session.execute(active).first() is None
    assert runner.invoke(args=["users", "revoke-key", "rita"]).exit_code != 0


def test_jobs_list_show_cancel_retry_and_purge(
    app: Any, runner: Any, insert_job: Callable[..., str]
) -> None:
    pending, done = insert_job(), insert_job(status="completed")
    listing = _ok(runner, "jobs", "list", "--status", "pending")
    assert pending in listing and done not in listing
    shown = json.loads(_ok(runner, "jobs", "show", pending))
    assert shown["status"] == "pending" and shown["user"] == "job-owner"
    assert [s["name"] for s in shown["stages"]] == ["prepare", "generate", "finalize"]
    assert shown["events"][0]["status"] == "pending"

    assert "canceled" in _ok(runner, "jobs", "cancel", pending)
    assert runner.invoke(args=["jobs", "cancel", pending]).exit_code != 0
    assert "deleted 2 job(s)" in _ok(runner, "jobs", "purge", pending, done)
    with app.app_context():
        assert db.session.execute(db.select(Job)).first() is None
    assert runner.invoke(args=["jobs", "show", pending]).exit_code != 0


def test_retry_resumes_a_canceled_job_and_purge_refuses_active_ones(
    app: Any, runner: Any, insert_job: Callable[..., str]
) -> None:
    job_id, active = insert_job(status="canceled"), insert_job()
    assert "pending again" in _ok(runner, "jobs", "retry", job_id)
    with app.app_context():
        assert db.session.get(Job, job_id).status != "canceled"
    assert runner.invoke(args=["jobs", "retry", active]).exit_code != 0
    refused = runner.invoke(args=["jobs", "purge", active])
    assert refused.exit_code != 0 and "still active" in refused.output
    assert runner.invoke(args=["jobs", "purge"]).exit_code != 0
    assert "jobs:" in _ok(runner, "jobs", "purge", "--expired")


@pytest.mark.timeout(30)
def test_queues_shows_every_queue_and_lane(runner: Any) -> None:
    output = _ok(runner, "queues").splitlines()
    assert output[0].split() == ["QUEUE", "HIGH", "DEFAULT", "LOW", "TOTAL", "OLDEST"]
    names = {line.split()[0] for line in output[1 : 1 + len(QUEUES)]}
    assert names == {*STAGE_NAMES, "provider_poll", "webhooks", "maintenance"} == set(QUEUES)
    assert "not yet acknowledged" in output[-2]
