"""The transition table, applied by conditional UPDATE, with one event per change."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tasks.db import db
from tasks.errors import InvalidTransition
from tasks.models import Job, JobEvent
from tasks.states import FINAL, STATUSES, TRANSITIONS, record_progress, transition

ALL_PAIRS = list(itertools.product(STATUSES, STATUSES))


def _events(job_id: str) -> list[JobEvent]:
    return list(
        db.session.execute(
            db.select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
        ).scalars()
    )


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS)
def test_every_pair_is_applied_or_refused(
    insert_job: Callable[..., str], source: str, target: str
) -> None:
    job_id = insert_job(status=source)
    if target in TRANSITIONS[source]:
        assert transition(job_id, source, target) is True
        db.session.commit()
        job = db.session.get(Job, job_id)
        assert job is not None and job.status == target
        events = _events(job_id)
        assert [e.seq for e in events] == [1, 2]
        assert events[-1].type == "status" and events[-1].data["status"] == target
        assert job.last_seq == 2
        assert (job.finished_at is not None) == (target in FINAL)
    else:
        with pytest.raises(InvalidTransition):
            transition(job_id, source, target)
        db.session.rollback()
        job = db.session.get(Job, job_id)
        assert job is not None and job.status == source
        assert len(_events(job_id)) == 1


def test_a_stale_source_moves_nothing(insert_job: Callable[..., str]) -> None:
    job_id = insert_job(status="processing")
    assert transition(job_id, "pending", "canceled") is False
    db.session.commit()
    assert db.session.get(Job, job_id).status == "processing"  # type: ignore[union-attr]
    assert len(_events(job_id)) == 1


def test_progress_only_while_processing(insert_job: Callable[..., str]) -> None:
    pending = insert_job(status="pending")
    running = insert_job(status="processing")
    assert record_progress(pending, progress=50, message="x") is False
    assert record_progress(running, progress=50, message="halfway") is True
    db.session.commit()
    event = _events(running)[-1]
    assert (event.seq, event.type, event.data["progress"], event.data["message"]) == (
        2,
        "progress",
        50,
        "halfway",
    )


def test_two_racing_transitions_only_one_wins(app: Any, insert_job: Callable[..., str]) -> None:
    job_id = insert_job(status="pending")
    barrier = threading.Barrier(2)
    outcomes: list[bool] = []

    def move(target: str) -> None:
        with app.app_context():
            barrier.wait()
            outcomes.append(transition(job_id, "pending", target))
            db.session.commit()

    threads = [threading.Thread(target=move, args=(t,)) for t in ("processing", "canceled")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(outcomes) == [False, True]
    db.session.expire_all()
    assert [e.seq for e in _events(job_id)] == [1, 2]
