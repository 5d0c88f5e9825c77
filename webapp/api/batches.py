"""/api/v1/batches: many jobs in one request, validated all or nothing, watched together."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, url_for
from sqlalchemy import func, select

from tasks.control import cancel_jobs
from tasks.db import db
from tasks.models import Batch, Job
from tasks.states import ACTIVE
from webapp.api.schemas import json_body, parse_job_request
from webapp.api.serialize import iso
from webapp.api.submission import submit_from_request
from webapp.auth import current_user, require_api_key
from webapp.errors import ApiError

bp = Blueprint("batches", __name__, url_prefix="/api/v1/batches")

MAX_BATCH_JOBS = 500
"""The most jobs one batch may hold."""


@bp.post("")
@require_api_key
def create_batch() -> tuple[Response, int, dict[str, str]]:
    """Submit many jobs at once; if any is invalid, none is created.

    Request:  {"jobs": [{"kind": "image", "input": {"prompt": "a cat"}}, ...]}
              (optional header Idempotency-Key)
    Response: 202 {"id": "b7c1...", "status": "pending", "total": 2, "counts": {...}, "jobs": [...]}
    """
    body = json_body()
    if not isinstance(body, dict) or set(body) != {"jobs"}:
        raise ApiError(422, "invalid_field", 'the body must be {"jobs": [...]}', field="jobs")
    jobs = body["jobs"]
    if not isinstance(jobs, list) or not 1 <= len(jobs) <= MAX_BATCH_JOBS:
        raise ApiError(
            422, "invalid_field", f"jobs must be a list of 1 to {MAX_BATCH_JOBS} jobs", field="jobs"
        )
    tier = current_user().tier
    specs = [parse_job_request(job, tier, prefix=f"jobs[{i}].") for i, job in enumerate(jobs)]
    submission, headers = submit_from_request(specs, as_batch=True)
    batch_id = str(submission.batch_id)
    headers["Location"] = url_for("batches.get_batch", batch_id=batch_id)
    return jsonify(batch_json(_own_batch(batch_id))), 202, headers


@bp.get("/<batch_id>")
@require_api_key
def get_batch(batch_id: str) -> Response:
    """A batch's status, counts per status, mean progress, and its jobs in order.

    Response: {"id": "b7c1...", "status": "processing", "progress": 40, "total": 2,
               "counts": {"completed": 1, "processing": 1}, "jobs": [{"id", "status", ...}]}
    """
    return jsonify(batch_json(_own_batch(batch_id)))


@bp.post("/<batch_id>/cancel")
@require_api_key
def cancel_batch(batch_id: str) -> Response:
    """Cancel every job of the batch that has not finished.

    Response: {"id": "b7c1...", "status": "canceled", ...}
    """
    batch = _own_batch(batch_id)
    active = (
        db.session.execute(select(Job.id).where(Job.batch_id == batch.id, Job.status.in_(ACTIVE)))
        .scalars()
        .all()
    )
    cancel_jobs(list(active))
    return jsonify(batch_json(batch))


def _own_batch(batch_id: str) -> Batch:
    batch = db.session.execute(
        select(Batch).where(Batch.id == batch_id, Batch.user_id == current_user().id)
    ).scalar_one_or_none()
    if batch is None:
        raise ApiError(404, "not_found", f"no batch {batch_id}")
    return batch


def batch_json(batch: Batch) -> dict[str, Any]:
    """A batch as the API shows it."""
    jobs = db.session.execute(
        select(Job.id, Job.kind, Job.status, Job.stage, Job.progress, Job.error)
        .where(Job.batch_id == batch.id)
        .order_by(Job.created_at, Job.id)
    ).all()
    counts = dict(
        db.session.execute(
            select(Job.status, func.count()).where(Job.batch_id == batch.id).group_by(Job.status)
        ).all()
    )
    total = len(jobs)
    return {
        "id": batch.id,
        "status": batch_status(counts, total),
        "progress": round(sum(job.progress for job in jobs) / total) if total else 0,
        "total": total,
        "counts": counts,
        "created_at": iso(batch.created_at),
        "jobs": [
            {
                "id": job.id,
                "kind": job.kind,
                "status": job.status,
                "stage": job.stage,
                "progress": job.progress,
                "error": job.error,
                "url": url_for("jobs.get_job", job_id=job.id),
            }
            for job in jobs
        ],
    }


def batch_status(counts: dict[str, int], total: int) -> str:
    """pending until one starts, processing while any is active, then completed/failed/canceled."""
    if counts.get("pending", 0) == total:
        return "pending"
    if any(counts.get(status, 0) for status in ACTIVE):
        return "processing"
    if counts.get("completed", 0) == total:
        return "completed"
    return "failed" if counts.get("failed", 0) else "canceled"
