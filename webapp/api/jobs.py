"""/api/v1/jobs: submit, read, list, and download results. Owner only: others get 404."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from flask import Blueprint, Response, jsonify, request, send_file, url_for
from sqlalchemy import select, tuple_
from sqlalchemy.orm import selectinload

from tasks.artifacts import artifact_path
from tasks.control import cancel_job, retry_job
from tasks.db import db
from tasks.models import Job
from tasks.pipelines import KINDS
from tasks.states import ACTIVE, STATUSES
from webapp.api.schemas import json_body, parse_job_request
from webapp.api.serialize import job_json
from webapp.api.stats import with_operator_fields
from webapp.api.submission import submit_from_request
from webapp.api.uploads import parse_multipart_job
from webapp.auth import current_user, require_api_key
from webapp.errors import ApiError

bp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs")

POLL_INTERVAL_S = 2
"""Retry-After sent while a job is active: how often a polling client should ask."""

PAGE_SIZE_MAX = 100
"""The most jobs one list page returns."""


def own_job(job_id: str) -> Job:
    """The caller's job with its stages; 404 for an unknown job or another user's."""
    job = db.session.execute(
        select(Job)
        .options(selectinload(Job.stages))
        .where(Job.id == job_id, Job.user_id == current_user().id)
    ).scalar_one_or_none()
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    return job


@bp.post("")
@require_api_key
def create_job() -> tuple[Response, int, dict[str, str]]:
    """Submit a job.

    Request:  {"kind": "image", "input": {"prompt": "a red lighthouse"}, "priority": "low"}
              or multipart/form-data: kind=tryon, human_image=@me.jpg,
              garment_image=@coat.png, occasion="a winter wedding"
              or multipart/form-data: kind=script, novel=@novel.txt, style, episodes, language
              (optional header Idempotency-Key: <any string up to 255 characters>)
    Response: 202 {"id": "3f2a...", "status": "pending", "stage": null, ...}
              Location: /api/v1/jobs/3f2a...; RateLimit-Limit/-Remaining/-Reset
    """
    tier = current_user().tier
    if request.mimetype == "multipart/form-data":
        spec = parse_multipart_job(tier)
    else:
        spec = parse_job_request(json_body(), tier)
    submission, headers = submit_from_request([spec], as_batch=False)
    job_id = submission.job_ids[0]
    headers["Location"] = url_for("jobs.get_job", job_id=job_id)
    job = submission.jobs[0] if submission.jobs else own_job(job_id)
    return jsonify(job_json(job)), 202, headers


@bp.get("/<job_id>")
@require_api_key
def get_job(job_id: str) -> Response:
    """One job; answers If-None-Match with 304, and suggests a poll interval while active.

    Response: 200 {"id": "3f2a...", "status": "processing", "stage": "generate", "progress": 40}
    """
    job = own_job(job_id)
    body = with_operator_fields(job, job_json(job))
    # A pending job's place in the queue moves without an event of its own.
    etag = f"{job.id}-{job.last_seq}-{body['queue_position'] or 0}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = jsonify(body)
    response.set_etag(etag)
    if job.status in ACTIVE:
        response.headers["Retry-After"] = str(POLL_INTERVAL_S)
    response.cache_control.no_cache = True
    return response


@bp.get("")
@require_api_key
def list_jobs() -> Response:
    """The caller's jobs, newest first; filter by status and kind; page with `cursor`.

    Request:  GET /api/v1/jobs?status=completed&kind=image&limit=20&cursor=...
    Response: {"data": [{"id": ...}, ...], "next_cursor": "eyJ..." | null}
    """
    limit = _int_arg("limit", default=20, low=1, high=PAGE_SIZE_MAX)
    query = (
        select(Job)
        .options(selectinload(Job.stages))
        .where(Job.user_id == current_user().id)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .limit(limit + 1)
    )
    if status := request.args.get("status"):
        _check_choice("status", status, STATUSES)
        query = query.where(Job.status == status)
    if kind := request.args.get("kind"):
        _check_choice("kind", kind, KINDS)
        query = query.where(Job.kind == kind)
    if cursor := request.args.get("cursor"):
        created_at, last_id = _decode_cursor(cursor)
        query = query.where(tuple_(Job.created_at, Job.id) < tuple_(created_at, last_id))
    jobs = list(db.session.execute(query).scalars())
    next_cursor = _encode_cursor(jobs[limit - 1]) if len(jobs) > limit else None
    return jsonify(data=[job_json(job) for job in jobs[:limit]], next_cursor=next_cursor)


@bp.post("/<job_id>/cancel")
@require_api_key
def cancel(job_id: str) -> Response:
    """Cancel a pending job at once, or a processing one within about a second.

    Response: 200 {"id": "3f2a...", "status": "canceled", ...}; 409 if it already finished
    """
    job = own_job(job_id)
    if not cancel_job(job.id):
        raise ApiError(409, "invalid_transition", f"job {job_id} is already {job.status}")
    return jsonify(job_json(own_job(job_id)))


@bp.post("/<job_id>/retry")
@require_api_key
def retry(job_id: str) -> tuple[Response, int]:
    """Resume a failed or canceled job at the stage that did not finish.

    Response: 202 {"id": "3f2a...", "status": "pending", "stage": "generate", ...}
    """
    job = own_job(job_id)
    if not retry_job(job.id):
        raise ApiError(
            409,
            "invalid_transition",
            f"job {job_id} is {job.status}; only failed or canceled jobs can be retried",
        )
    return jsonify(job_json(own_job(job_id))), 202


@bp.get("/<job_id>/artifacts/<name>")
@require_api_key
def download_artifact(job_id: str, name: str) -> Response:
    """A result file of the caller's job (`?download=1` to save it rather than show it)."""
    job = own_job(job_id)
    listed = {a["name"]: a for a in (job.result or {}).get("artifacts", [])}
    path = artifact_path(job.id, name) if name in listed else None
    if path is None:
        raise ApiError(404, "not_found", f"job {job_id} has no artifact {name!r}")
    return send_file(
        path,
        mimetype=listed[name]["content_type"],
        # Saved files tell jobs apart: "image-3f2a9c1e-image.png", not a hundred "image.png".
        download_name=f"{job.kind}-{job.id[:8]}-{name}",
        as_attachment=request.args.get("download") == "1",
    )


def _int_arg(name: str, *, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(
            422,
            "invalid_field",
            f"{name} must be a whole number from {low} to {high}",
            field=name,
        )
    return int(raw)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ApiError(
            422,
            "invalid_field",
            f"{name} must be one of: {', '.join(allowed)}",
            field=name,
        )


def _encode_cursor(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created_at, job_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return datetime.fromisoformat(created_at), str(job_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(
            422, "invalid_field", "cursor is not one this API issued", field="cursor"
        ) from exc
