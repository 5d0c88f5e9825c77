"""Shared by POST /jobs and POST /batches: Idempotency-Key handling and the submit call."""

from __future__ import annotations

import hashlib
import json

from flask import request

from tasks.submit import IdempotencyConflict, JobSpec, Submission, submit_jobs
from webapp.auth import current_user
from webapp.errors import ApiError
from webapp.quotas import admit_submit

MAX_KEY_LENGTH = 255
"""Longest Idempotency-Key we accept."""


def submit_from_request(
    specs: list[JobSpec], *, as_batch: bool
) -> tuple[Submission, dict[str, str]]:
    """Apply quotas, honour Idempotency-Key, submit; returns the outcome and headers to send."""
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(key) <= MAX_KEY_LENGTH:
        raise ApiError(
            422,
            "invalid_field",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
            field="Idempotency-Key",
        )
    user = current_user()
    headers = admit_submit(user, len(specs))
    digest = request_digest()
    try:
        submission = submit_jobs(
            user, specs, as_batch=as_batch, idempotency_key=key, request_hash=digest
        )
    except IdempotencyConflict:
        raise ApiError(
            409,
            "idempotency_conflict",
            "this Idempotency-Key was already used with a different request; use a new key",
            field="Idempotency-Key",
        ) from None
    if submission.replayed:
        headers["Idempotent-Replayed"] = "true"
    return submission, headers


def request_digest() -> str:
    """SHA-256 of what a submit asked for: the JSON body, or the form fields and file digests."""
    if request.mimetype == "multipart/form-data":
        fields = sorted(request.form.items(multi=True))
        files = []
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            upload.stream.seek(0)
            content = hashlib.sha256(upload.stream.read()).hexdigest()
            upload.stream.seek(0)
            files.append([name, upload.filename or "", content])
        body = json.dumps({"form": fields, "files": files}, separators=(",", ":"))
    else:
        body = json.dumps(request.get_json(silent=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.path}\n{body}".encode()).hexdigest()
