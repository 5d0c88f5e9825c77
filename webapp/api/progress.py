"""POST /api/v1/jobs/{id}/progress: an outside generator pushes a job's progress (seed 002).

Authenticated by a shared secret (PROGRESS_PUSH_SECRET) in the X-Progress-Secret
header, compared in constant time; with no secret configured the endpoint does
not exist (404). A push only sets progress, stage and message of a processing
job through `tasks.states.record_progress`: a rejected or failed push changes
nothing, and never touches the job's stages, so it cannot break the job.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, jsonify, request
from pydantic import Field
from sqlalchemy import select

from config import get_settings
from tasks.db import db
from tasks.models import Job
from tasks.pipelines import stages_of
from tasks.states import PROCESSING, record_progress
from webapp.api.schemas import Strict, json_body, validate
from webapp.errors import ApiError

bp = Blueprint("progress", __name__, url_prefix="/api/v1/jobs")

SECRET_HEADER = "X-Progress-Secret"
"""The request header that carries PROGRESS_PUSH_SECRET."""


class ProgressPush(Strict):
    """Body of a progress push: any of progress, stage, message."""

    progress: int | None = Field(default=None, ge=0, le=100)
    stage: str | None = Field(default=None, min_length=1, max_length=32)
    message: str | None = Field(default=None, max_length=500)


def push_secret() -> str | None:
    """The configured shared secret, or None when pushes are off."""
    return get_settings().webhooks.progress_push_secret


@bp.post("/<job_id>/progress")
def push_progress(job_id: str) -> Response:
    """Set progress, stage and/or message of a processing job.

    Request:  X-Progress-Secret: <PROGRESS_PUSH_SECRET>
              {"progress": 40, "stage": "generate", "message": "Rendering 2 of 5"}
    Response: {"id": "3f2a...", "status": "processing", "stage": "generate", "progress": 40,
               "message": "Rendering 2 of 5"}; 401 bad secret, 409 not processing
    """
    secret = push_secret()
    if secret is None:
        raise ApiError(404, "not_found", "progress pushes are off (PROGRESS_PUSH_SECRET is unset)")
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise ApiError(401, "unauthorized", f"send the shared secret in {SECRET_HEADER}")
    fields = validate(ProgressPush, json_body()).model_dump(exclude_none=True)
    if not fields:
        raise ApiError(
            422, "invalid_field", "send at least one of progress, stage, message", field="progress"
        )
    job = db.session.execute(select(Job.kind, Job.status).where(Job.id == job_id)).first()
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id}")
    stages = [stage.name for stage in stages_of(job.kind)]
    if "stage" in fields and fields["stage"] not in stages:
        raise ApiError(
            422, "invalid_field", f"stage must be one of: {', '.join(stages)}", field="stage"
        )
    if job.status != PROCESSING or not record_progress(job_id, **fields):
        db.session.rollback()
        raise ApiError(409, "invalid_transition", f"job {job_id} is not processing")
    db.session.commit()
    row = db.session.execute(
        select(Job.status, Job.stage, Job.progress, Job.message).where(Job.id == job_id)
    ).one()
    return jsonify(
        id=job_id, status=row.status, stage=row.stage, progress=row.progress, message=row.message
    )
