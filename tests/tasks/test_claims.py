"""The attempt fence: one claim per delivery wins, and a lost fence writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tasks.claims import claim_stage_of_active_job, holds_fence, settle_stage
from tasks.db import db
from tasks.models import Job, JobStage
from tasks.states import record_progress


def _stage(job_id: str, name: str) -> JobStage:
    db.session.expire_all()
    return db.session.execute(
        db.select(JobStage).where(JobStage.job_id == job_id, JobStage.name == name)
    ).scalar_one()


def test_two_concurrent_claims_of_one_stage_only_one_wins(
    app: Any, insert_job: Callable[..., str]
) -> None:
    job_id = insert_job()
    barrier = threading.Barrier(2)
    fences: list[int | None] = []

    def claim() -> None:
        with app.app_context():
            barrier.wait()
            claim = claim_stage_of_active_job(job_id, "prepare", 0)
            fences.append(claim.fence if claim else None)
            db.session.commit()

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(fences, key=str) == [1, None]
    stage = _stage(job_id, "prepare")
    assert (stage.status, stage.attempts) == ("running", 1)


def test_a_redelivered_message_cannot_claim_again(insert_job: Callable[..., str]) -> None:
    job_id = insert_job()
    claim = claim_stage_of_active_job(job_id, "prepare", 0)
    assert claim is not None and claim.fence == 1
    db.session.commit()
    assert claim_stage_of_active_job(job_id, "prepare", 0) is None


def test_a_zombie_attempt_writes_nothing(insert_job: Callable[..., str]) -> None:
    job_id = insert_job(status="processing")
    claim = claim_stage_of_active_job(job_id, "prepare", 0)
    old = claim.fence if claim else None
    assert old == 1
    # The stage is handed to a new attempt (as the reaper will do).
    assert settle_stage(job_id, "prepare", 1, "pending")
    claim = claim_stage_of_active_job(job_id, "prepare", 1)
    new = claim.fence if claim else None
    db.session.commit()
    assert new == 2
    assert settle_stage(job_id, "prepare", old, "completed", output={"late": True}) is False
    assert record_progress(job_id, where=holds_fence(job_id, "prepare", old), progress=99) is False
    db.session.commit()
    stage = _stage(job_id, "prepare")
    assert (stage.status, stage.attempts, stage.output) == ("running", 2, None)
    assert db.session.get(Job, job_id).progress == 0  # type: ignore[union-attr]
