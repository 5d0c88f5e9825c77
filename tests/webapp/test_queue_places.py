"""Queue places for open streams: one ranked query must agree with the per-job count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event, select, update

from tasks.db import db
from tasks.eta import measurements
from tasks.models import Job
from webapp.api.serialize import queue_position
from webapp.queue_places import QueuePlaces


def _jobs(app: Any, insert_job: Callable[..., str], make_user: Any) -> list[str]:
    owner, _ = make_user("owner")
    other, _ = make_user("other")
    ids = [insert_job(user_id=owner) for _ in range(3)]
    ids += [insert_job(user_id=other, admitted=False) for _ in range(2)]
    ids += [insert_job(user_id=other), insert_job(user_id=owner, status="processing")]
    with app.app_context():
        lanes = {ids[2]: "high", ids[5]: "low"}
        for job_id, lane in lanes.items():
            db.session.execute(update(Job).where(Job.id == job_id).values(priority=lane))
        db.session.commit()
    return ids


def _expected(app: Any, ids: list[str]) -> dict[str, int | None]:
    with app.app_context():
        jobs = db.session.execute(select(Job).where(Job.id.in_(ids))).scalars()
        return {job.id: queue_position(job) for job in jobs}


def test_ranked_places_match_each_job_s_own_count(
    app: Any, insert_job: Callable[..., str], make_user: Any
) -> None:
    ids = _jobs(app, insert_job, make_user)
    expected = _expected(app, ids)
    places = QueuePlaces(60, lambda: ids)

    got = {job_id: (places.place(app, job_id) or (None, None))[0] for job_id in ids}

    assert got == expected
    assert got[ids[2]] == 1  # the high lane goes first
    assert got[ids[6]] is None  # processing: no place
    assert sorted(p for p in got.values() if p is not None) == [1, 2, 3, 4, 5, 6]


def test_one_refresh_answers_every_watched_job(
    app: Any, insert_job: Callable[..., str], make_user: Any
) -> None:
    ids = _jobs(app, insert_job, make_user)
    expected = _expected(app, ids)
    places = QueuePlaces(60, lambda: ids[:4])
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
        measurements()  # the ETA figures are cached apart; not what this test counts

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        first = [places.place(app, job_id) for job_id in ids[:4]]
        queried_for_watched = len(statements)
        late = places.place(app, ids[5])  # not watched at the refresh: counted alone
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert [place[0] if place else None for place in first] == [expected[i] for i in ids[:4]]
    # The ranked query for the admitted ones, then the one waiting job (ids[3]) read and
    # counted; asked per job, it was a read and a count each (8).
    assert queried_for_watched == 3
    assert late is not None and late[0] == expected[ids[5]]
