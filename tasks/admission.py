"""Admission: a per-user cap on jobs in flight, so one user's backlog cannot starve others.

A job over its user's cap waits in Postgres (`admitted_at` is NULL): no broker
message, no worker slot. As the user's earlier jobs finish, `admit_waiting`
lets the oldest waiting ones in and sends their due stage. A per-user advisory
lock makes concurrent admissions for one user take turns, so the cap holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from config import get_settings
from tasks.db import db
from tasks.enqueue import enqueue_stages
from tasks.models import Job, JobStage, User
from tasks.states import ACTIVE, PENDING

ADMISSION_LOCK = 0x6A6F6273
"""First key of the advisory lock (the second is the user id)."""


def in_flight_cap(user: User) -> int:
    """How many of this user's jobs may be queued or running at once."""
    return user.max_in_flight or get_settings().tier_limits[user.tier].max_in_flight


def admit_waiting(user_id: int) -> int:
    """Admit this user's oldest waiting jobs up to the cap and send them; returns how many."""
    user = db.session.get(User, user_id)
    if user is None:
        return 0
    db.session.execute(select(func.pg_advisory_xact_lock(ADMISSION_LOCK, user_id)))
    in_flight = db.session.execute(
        select(func.count())
        .select_from(Job)
        .where(Job.user_id == user_id, Job.status.in_(ACTIVE), Job.admitted_at.is_not(None))
    ).scalar_one()
    free = in_flight_cap(user) - in_flight
    if free <= 0:
        db.session.commit()
        return 0
    waiting = (
        select(Job.id)
        .where(Job.user_id == user_id, Job.status == PENDING, Job.admitted_at.is_(None))
        .order_by(Job.created_at, Job.id)
        .limit(free)
    )
    admitted = (
        db.session.execute(
            update(Job)
            .where(Job.id.in_(waiting.scalar_subquery()))
            .values(admitted_at=func.now())
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        )
        .scalars()
        .all()
    )
    due = db.session.execute(
        select(JobStage.job_id, JobStage.name, JobStage.attempts, Job.priority)
        .join(Job, Job.id == JobStage.job_id)
        .where(JobStage.job_id.in_(admitted), due_stage())
    ).all()
    db.session.commit()
    enqueue_stages([(row.job_id, row.name, row.attempts, row.priority) for row in due])
    return len(admitted)


def admits_on_submit(user: User, job_count: int) -> datetime | None:
    """When `job_count` new jobs fit under the cap and nobody waits: the admission time, else None.

    Takes the user's admission lock for the rest of the caller's transaction, so
    the caller can insert the jobs already admitted (one transaction, no second
    admission pass). The time is the transaction's `now()`, as SQL would write it.
    On None the caller inserts the jobs waiting and calls `admit_waiting` after
    its commit.
    """
    db.session.execute(select(func.pg_advisory_xact_lock(ADMISSION_LOCK, user.id)))
    admitted = Job.admitted_at.is_not(None)
    in_flight, waiting, now = db.session.execute(
        select(
            func.count().filter(admitted),
            func.count().filter(Job.status == PENDING, ~admitted),
            func.now(),
        ).where(Job.user_id == user.id, Job.status.in_(ACTIVE))
    ).one()
    fits = waiting == 0 and in_flight + job_count <= in_flight_cap(user)
    return now if fits else None


_WAITING = aliased(Job)
_HAS_WAITING_JOBS = exists().where(
    _WAITING.user_id == Job.user_id,
    _WAITING.status == PENDING,
    _WAITING.admitted_at.is_(None),
)
"""SQL condition on a Job: its owner has jobs waiting for admission."""


def admit_for_jobs(job_ids: list[str]) -> int:
    """Admit waiting jobs of these jobs' owners (their slots just freed up, or they re-queued)."""
    # Most completions free a slot nobody waits for: one cheap query, and no lock.
    owners = db.session.execute(
        select(Job.user_id).where(Job.id.in_(job_ids), _HAS_WAITING_JOBS).distinct()
    )
    return sum(admit_waiting(user_id) for user_id in list(owners.scalars()))


def due_stage() -> ColumnElement[bool]:
    """SQL condition on a JobStage joined to its Job: the stage that runs next."""
    return or_(JobStage.name == Job.stage, and_(Job.stage.is_(None), JobStage.position == 0))


def users_with_waiting_jobs(limit: int = 1000) -> list[int]:
    """Users who have jobs waiting for admission (for the periodic sweep)."""
    return list(
        db.session.execute(
            select(Job.user_id)
            .where(Job.status == PENDING, Job.admitted_at.is_(None))
            .distinct()
            .limit(limit)
        ).scalars()
    )
