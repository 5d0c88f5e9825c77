"""POST /api/v1/jobs as multipart/form-data: one dispatcher, a parser per kind.

A multipart submit has the form field `kind` (required) and `priority` (optional),
plus the kind's own fields and files. The kind's parser validates and stores its
uploads and returns the job's input; the result then goes through the same
validation as a JSON submit (`parse_job_request`), so both paths agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from config import get_settings
from tasks.submit import JobSpec
from webapp.api import uploads_tryon
from webapp.api.schemas import parse_job_request
from webapp.errors import ApiError

COMMON_FIELDS = frozenset({"kind", "priority"})
"""Form fields every multipart submit may carry."""


@dataclass(frozen=True, kw_only=True)
class MultipartKind:
    """What a kind accepts as multipart: its text fields, its files, and its parser."""

    fields: frozenset[str]
    files: frozenset[str]
    parse: Callable[[], dict[str, Any]]


MULTIPART_KINDS: dict[str, MultipartKind] = {
    "tryon": MultipartKind(
        fields=uploads_tryon.FIELDS, files=uploads_tryon.FILES, parse=uploads_tryon.parse_input
    ),
}
"""kind -> how it is submitted as multipart/form-data."""


def parse_multipart_job(tier: str) -> JobSpec:
    """Validate a multipart job submit; returns its spec or raises 413/422 naming the field."""
    try:
        form, files = request.form, request.files
    except RequestEntityTooLarge:
        raise ApiError(
            413,
            "request_entity_too_large",
            f"the request is over {get_settings().max_request_bytes} bytes (MAX_REQUEST_BYTES)",
        ) from None
    kind = form.get("kind", "")
    spec = MULTIPART_KINDS.get(kind)
    if spec is None:
        choices = ", ".join(MULTIPART_KINDS)
        raise ApiError(
            422,
            "invalid_field",
            f"kind must be one of: {choices} (other kinds are submitted as JSON)",
            field="kind",
        )
    for name in form:
        if name in spec.files:
            raise ApiError(422, "invalid_field", f"{name}: must be a file upload", field=name)
        if name not in COMMON_FIELDS | spec.fields:
            raise ApiError(422, "invalid_field", f"{name}: unknown field", field=name)
    for name in files:
        if name not in spec.files:
            raise ApiError(422, "invalid_field", f"{name}: unknown file field", field=name)
    body = {"kind": kind, "input": spec.parse(), "priority": form.get("priority") or None}
    return parse_job_request(body, tier)
