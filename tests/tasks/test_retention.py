"""Retention: finished jobs expire per tier with their files; orphans, old keys, events go too."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from config import get_settings
from tasks.db import db
from tasks.models import Batch, IdempotencyKey, Job, JobEvent
from tasks.retention import (
    apply_retention,
    compact_finished_job_events,
    delete_empty_batches,
    delete_old_idempotency_keys,
    expire_finished_jobs,
    remove_orphan_dirs,
)

pytestmark = pytest.mark.timeout(60)


def _finish(job_id: str, days_ago: float, status: str = "completed") -> None:
    db.session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(status=status, finished_at=func.now() - timedelta(days=days_ago))
    )
    db.session.commit()


def _with_file(job_id: str) -> Path:
    folder = get_settings().artifacts_dir / job_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "image.png").write_bytes(b"png")
    return folder


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_finished_jobs_expire_by_their_owners_tier_with_their_files(
    make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    standard, _ = make_user("standard-user")
    vip, _ = make_user("vip-user", tier="vip")
    expired = insert_job(user_id=standard)
    _finish(expired, days_ago=8)  # standard keeps 7 days
    recent = insert_job(user_id=standard)
    _finish(recent, days_ago=6)
    vip_kept = insert_job(user_id=vip)
    _finish(vip_kept, days_ago=8)  # vip keeps 30 days
    vip_expired = insert_job(user_id=vip)
    _finish(vip_expired, days_ago=31, status="failed")
    active = insert_job(user_id=standard)
    folders = {job_id: _with_file(job_id) for job_id in (expired, recent, vip_expired, active)}

    assert expire_finished_jobs() == 2

    remaining = set(db.session.execute(select(Job.id)).scalars())
    assert remaining == {recent, vip_kept, active}
    assert not folders[expired].exists() and not folders[vip_expired].exists()
    assert folders[recent].exists() and folders[active].exists()
    events = select(func.count()).where(JobEvent.job_id.in_([expired, vip_expired]))
    assert db.session.execute(events).scalar_one() == 0
    assert expire_finished_jobs() == 0


def test_orphan_folders_go_once_older_than_the_grace_period(
    insert_job: Callable[..., str],
) -> None:
    root = get_settings().artifacts_dir
    old_orphan, young_orphan = _with_file(uuid.uuid4().hex), _with_file(uuid.uuid4().hex)
    owned = _with_file(insert_job())
    not_ours = root / "notes"
    not_ours.mkdir(exist_ok=True)
    for folder in (old_orphan, owned, not_ours):
        _age(folder, 2 * 3600)

    assert remove_orphan_dirs() >= 1

    assert not old_orphan.exists()
    assert young_orphan.exists() and owned.exists() and not_ours.exists()


def test_idempotency_keys_are_forgotten_after_a_day_and_empty_batches_go(
    make_user: Callable[..., tuple[int, str]],
) -> None:
    user_id, _ = make_user("keys")
    for key, hours_ago in (("old", 25), ("fresh", 1)):
        db.session.execute(
            insert(IdempotencyKey).values(
                user_id=user_id,
                key=key,
                request_hash="x" * 64,
                created_at=func.now() - timedelta(hours=hours_ago),
            )
        )
    db.session.add(Batch(id=uuid.uuid4().hex, user_id=user_id))
    db.session.commit()
    db.session.execute(update(Batch).values(created_at=func.now() - timedelta(hours=2)))
    db.session.commit()

    assert delete_old_idempotency_keys() == 1
    assert db.session.execute(select(IdempotencyKey.key)).scalars().all() == ["fresh"]
    assert delete_empty_batches() == 1


def _add_events(job_id: str, count: int) -> None:
    for seq in range(2, count + 1):
        db.session.execute(
            insert(JobEvent).values(job_id=job_id, seq=seq, type="progress", data={})
        )
    db.session.execute(update(Job).where(Job.id == job_id).values(last_seq=count))
    db.session.commit()


def test_recently_finished_jobs_keep_only_their_last_events(
    insert_job: Callable[..., str],
) -> None:
    finished, running = insert_job(), insert_job()
    for job_id in (finished, running):
        _add_events(job_id, 6)
    _finish(finished, days_ago=0)

    assert compact_finished_job_events(keep=0) == 0  # the default: keep all
    assert compact_finished_job_events(keep=2) == 4

    def seqs(job_id: str) -> list[int]:
        query = select(JobEvent.seq).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
        return list(db.session.execute(query).scalars())

    assert seqs(finished) == [5, 6]
    assert seqs(running) == [1, 2, 3, 4, 5, 6]


def test_beat_runs_retention_on_the_maintenance_queue(app: Any) -> None:
    celery_app = app.extensions["celery"]
    entry = celery_app.conf.beat_schedule["apply-retention"]
    assert entry["task"] == "maintenance.apply_retention"
    assert entry["schedule"] == get_settings().retention_interval_s
    assert "maintenance.apply_retention" in celery_app.tasks
    report = apply_retention.run()
    assert set(report) == {
        "jobs",
        "orphan_dirs",
        "orphan_uploads",
        "events",
        "idempotency_keys",
        "batches",
    }
