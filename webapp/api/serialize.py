"""The job JSON that every endpoint returns (see DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy import case, func, select

from tasks.db import db
from tasks.eta import eta_seconds
from tasks.models import Job
from tasks.states import PENDING

LANE_RANK = case({"high": 0, "default": 1, "low": 2}, value=Job.priority)
"""Lanes in the order workers take them."""


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with timezone, or None."""
    return moment.isoformat() if moment else None


def queue_position(job: Job) -> int | None:
    """1 + how many pending jobs run before this one (more urgent lane, or same lane and older)."""
    if job.status != PENDING:
        return None
    rank = {"high": 0, "default": 1, "low": 2}[job.priority]
    ahead = db.session.execute(
        select(func.count())
        .select_from(Job)
        .where(
            Job.status == PENDING,
            (LANE_RANK < rank)
            | ((Job.priority == job.priority) & (Job.created_at < job.created_at)),
        )
    ).scalar_one()
    return int(ahead) + 1


def job_json(job: Job) -> dict[str, Any]:
    """A job as the API shows it."""
    position = queue_position(job)
    result = dict(job.result) if job.result else None
    if result and "artifacts" in result:
        result["artifacts"] = [
            {
                **artifact,
                "url": url_for("jobs.download_artifact", job_id=job.id, name=artifact["name"]),
            }
            for artifact in result["artifacts"]
        ]
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "stages": [
            {
                "name": stage.name,
                "status": stage.status,
                "attempts": stage.attempts,
                "started_at": iso(stage.started_at),
                "finished_at": iso(stage.finished_at),
            }
            for stage in job.stages
        ],
        "progress": job.progress,
        "message": job.message,
        "queue_position": position,
        "eta_seconds": eta_seconds(job.kind, job.status, job.progress, position),
        "priority": job.priority,
        "input": job.input,
        "result": result,
        "error": job.error,
        "attempts": sum(stage.attempts for stage in job.stages),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "updated_at": iso(job.updated_at),
    }
