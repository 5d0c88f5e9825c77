"""The job JSON that every endpoint returns (see DESIGN.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy import case, func, select

from tasks.db import db
from tasks.eta import eta_seconds, expected_run_s
from tasks.models import LANES, Job
from tasks.states import PENDING

LANE_RANK_OF = {lane: rank for rank, lane in enumerate(LANES)}
"""Lanes in the order workers take them."""

LANE_RANK = case(LANE_RANK_OF, value=Job.priority)
"""The same, in SQL."""


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with timezone, or None."""
    return moment.isoformat() if moment else None


def queue_position(job: Job) -> int | None:
    """1 + how many pending jobs will run before this one.

    Admitted jobs queue by lane, then age. A job still waiting for admission (over
    its user's in-flight cap) comes after every admitted job and after its user's
    earlier waiting jobs.
    """
    if job.status != PENDING:
        return None
    admitted = (Job.status == PENDING) & Job.admitted_at.is_not(None)
    if job.admitted_at is None:
        ahead = (
            (Job.status == PENDING)
            & Job.admitted_at.is_(None)
            & (Job.user_id == job.user_id)
            & (Job.created_at < job.created_at)
        )
        condition = admitted | ahead
    else:
        rank = LANE_RANK_OF[job.priority]
        same_lane_older = (Job.priority == job.priority) & (Job.created_at < job.created_at)
        condition = admitted & ((LANE_RANK < rank) | same_lane_older)
    ahead_count = db.session.execute(
        select(func.count()).select_from(Job).where(condition)
    ).scalar_one()
    return int(ahead_count) + 1


INPUT_TEXT_SHOWN_CHARS = 500
"""A novel in the job JSON is cut to this many characters (`text_chars` gives its length):
list pages of script jobs stay small; the whole text stays in Postgres for the workers."""


def shown_input(job_input: dict[str, Any]) -> dict[str, Any]:
    """The input as the API shows it."""
    text = job_input.get("text")
    if isinstance(text, str) and len(text) > INPUT_TEXT_SHOWN_CHARS:
        cut = text[:INPUT_TEXT_SHOWN_CHARS] + "…"
        return {**job_input, "text": cut, "text_chars": len(text)}
    return job_input


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
        "eta_seconds": eta_seconds(
            job.kind,
            job.status,
            job.progress,
            position,
            expected_s=expected_run_s(job.kind, job.input),
        ),
        "priority": job.priority,
        "input": shown_input(job.input),
        "webhook": {"url": job.webhook["url"], "events": job.webhook["events"]}
        if job.webhook
        else None,
        "result": result,
        "error": job.error,
        "attempts": sum(stage.attempts for stage in job.stages),
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "updated_at": iso(job.updated_at),
    }
