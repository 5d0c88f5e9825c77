"""Operators' commands: `flask jobs list|show|cancel|retry|purge` and `flask queues`."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from tasks.control import cancel_job, retry_job
from tasks.db import db
from tasks.models import Job, JobEvent, User
from tasks.pipelines import KINDS
from tasks.queue_depths import queue_depths, unacked_messages
from tasks.retention import apply_retention, delete_jobs
from tasks.states import FINAL, STATUSES

jobs = AppGroup("jobs", help="Inspect and steer jobs of every user.")


def _job(job_id: str) -> Job:
    job = db.session.execute(
        select(Job).options(selectinload(Job.stages)).where(Job.id == job_id)
    ).scalar_one_or_none()
    if job is None:
        raise click.ClickException(f"no job {job_id}")
    return job


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "-"


def print_table(header: list[str], rows: list[list[Any]]) -> None:
    """Rows under a header, in aligned columns."""
    cells = [header, *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


@jobs.command("list")
@click.option("--status", type=click.Choice(STATUSES))
@click.option("--kind", type=click.Choice(KINDS))
@click.option("--user", "user_name", help="Only this user's jobs.")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
def list_jobs(status: str | None, kind: str | None, user_name: str | None, limit: int) -> None:
    """The newest jobs of every user (filter by status, kind, user)."""
    query = (
        select(Job, User.name)
        .join(User, User.id == Job.user_id)
        .order_by(Job.created_at.desc())
        .limit(limit)
    )
    if status:
        query = query.where(Job.status == status)
    if kind:
        query = query.where(Job.kind == kind)
    if user_name:
        query = query.where(User.name == user_name)
    rows = [
        [job.id, name, job.kind, job.status, job.stage or "-", f"{job.progress}%", job.priority]
        + [_when(job.created_at), _when(job.finished_at)]
        for job, name in db.session.execute(query).all()
    ]
    header = ["ID", "USER", "KIND", "STATUS", "STAGE", "PROGRESS", "LANE", "CREATED", "FINISHED"]
    print_table(header, rows)


@jobs.command("show")
@click.argument("job_id")
@click.option("--events", type=click.IntRange(0, 10000), default=10, show_default=True)
def show_job(job_id: str, events: int) -> None:
    """A job with its stages and latest events, as JSON."""
    job = _job(job_id)
    owner = db.session.get(User, job.user_id)
    recent = db.session.execute(
        select(JobEvent)
        .where(JobEvent.job_id == job.id)
        .order_by(JobEvent.seq.desc())
        .limit(events)
    ).scalars()
    body = {
        "id": job.id,
        "user": owner.name if owner else None,
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "progress": job.progress,
        "message": job.message,
        "priority": job.priority,
        "input": job.input,
        "result": job.result,
        "error": job.error,
        "stages": [
            {
                "name": s.name,
                "status": s.status,
                "attempts": s.attempts,
                "error": s.error,
                "started_at": s.started_at,
                "finished_at": s.finished_at,
            }
            for s in job.stages
        ],
        "events": [
            {"seq": e.seq, "type": e.type, "at": e.created_at, **e.data}
            for e in reversed(list(recent))
        ],
        "created_at": job.created_at,
        "finished_at": job.finished_at,
    }
    click.echo(json.dumps(body, indent=2, default=str))


@jobs.command("cancel")
@click.argument("job_id")
def cancel(job_id: str) -> None:
    """Cancel a pending or processing job (as its owner could)."""
    job = _job(job_id)
    if not cancel_job(job.id):
        raise click.ClickException(f"job {job_id} is already {job.status}")
    click.echo(f"canceled job {job_id}")


@jobs.command("retry")
@click.argument("job_id")
def retry(job_id: str) -> None:
    """Resume a failed or canceled job at the stage that did not finish."""
    job = _job(job_id)
    if not retry_job(job.id):
        raise click.ClickException(
            f"job {job_id} is {job.status}; only failed or canceled jobs can be retried"
        )
    click.echo(f"job {job_id} is pending again")


@jobs.command("purge")
@click.argument("job_ids", nargs=-1)
@click.option("--expired", is_flag=True, help="Run the retention sweep now instead.")
def purge(job_ids: tuple[str, ...], expired: bool) -> None:
    """Delete finished jobs with their files now, or (--expired) whatever retention says."""
    if expired == bool(job_ids):
        raise click.UsageError("give job ids, or --expired (not both)")
    if expired:
        report = apply_retention.run()
        click.echo(", ".join(f"{name}: {count}" for name, count in report.items()))
        return
    active = [j.id for j in (_job(job_id) for job_id in job_ids) if j.status not in FINAL]
    if active:
        raise click.ClickException(f"cancel these first, they are still active: {' '.join(active)}")
    deleted = delete_jobs(job_ids)
    click.echo(f"deleted {len(deleted)} job(s) and their files")


@click.command("queues")
def queues() -> None:
    """Messages waiting per queue and lane (priority list), and the oldest one's age."""
    rows = [
        [q.queue, q.lanes["high"], q.lanes["default"], q.lanes["low"], q.total]
        + ["-" if q.oldest_age_s is None else f"{q.oldest_age_s:.1f}s"]
        for q in queue_depths()
    ]
    print_table(["QUEUE", "HIGH", "DEFAULT", "LOW", "TOTAL", "OLDEST"], rows)
    click.echo(f"delivered to workers, not yet acknowledged: {unacked_messages()}")
    click.echo(f"checked at {time.strftime('%Y-%m-%d %H:%M:%S')}")
