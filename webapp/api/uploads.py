"""POST /api/v1/jobs as multipart/form-data: one dispatcher, a parser per kind.

A multipart submit has the form field `kind` (required) and `priority` (optional),
plus the kind's own fields and files. The kind's parser validates and stores its
uploads and returns the job's input; that then goes through the same validation
as a JSON submit (`parse_job_request`), so both paths agree. Errors name the form
field the client sent (`novel`, not `input.text`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from config import get_settings
from tasks.submit import JobSpec
from webapp.api import uploads_script, uploads_tryon
from webapp.api.schemas import parse_job_request
from webapp.errors import ApiError

COMMON_FIELDS = frozenset({"kind", "priority"})
"""Form fields every multipart submit may carry."""


@dataclass(frozen=True, kw_only=True)
class MultipartKind:
    """What a kind accepts as multipart: text fields, files, its parser, its field names."""

    fields: frozenset[str]
    files: frozenset[str]
    parse: Callable[[], dict[str, Any]]
    form_names: Mapping[str, str] = field(default_factory=dict)
    """JSON input path -> the form field it comes from, for error messages."""


MULTIPART_KINDS: dict[str, MultipartKind] = {
    "script": MultipartKind(
        fields=uploads_script.FIELDS,
        files=uploads_script.FILES,
        parse=uploads_script.parse_input,
        form_names=uploads_script.FORM_NAMES,
    ),
    "tryon": MultipartKind(
        fields=uploads_tryon.FIELDS, files=uploads_tryon.FILES, parse=uploads_tryon.parse_input
    ),
}
"""kind -> how it is submitted as multipart/form-data."""


def parse_multipart_job(tier: str) -> JobSpec:
    """Validate a multipart job submit; returns its spec or raises 413/422 naming the field."""
    try:
        form = request.form  # parses the whole body, files included
    except RequestEntityTooLarge:
        raise ApiError(
            413,
            "request_entity_too_large",
            f"the request is over {get_settings().max_request_bytes} bytes (MAX_REQUEST_BYTES)",
        ) from None
    kind = form.get("kind", "").strip()
    spec = MULTIPART_KINDS.get(kind)
    if spec is None:
        choices = " or ".join(MULTIPART_KINDS)
        raise ApiError(
            422,
            "invalid_field",
            f"kind: multipart submits take kind {choices} (other kinds are submitted as JSON)",
            field="kind",
        )
    _reject_unknown_fields(spec)
    body = {"kind": kind, "input": spec.parse(), "priority": form.get("priority") or None}
    try:
        return parse_job_request(body, tier)
    except ApiError as exc:
        if exc.field in spec.form_names:  # name the form field the client actually sent
            name = spec.form_names[exc.field]
            exc.message = exc.message.replace(exc.field, name, 1)
            exc.field = name
        raise


def _reject_unknown_fields(spec: MultipartKind) -> None:
    for name in request.form:
        if name in spec.files and name not in spec.fields:
            raise ApiError(422, "invalid_field", f"{name}: must be a file upload", field=name)
        if name not in COMMON_FIELDS | spec.fields:
            raise ApiError(422, "invalid_field", f"{name}: unknown field", field=name)
    for name in request.files:
        if name not in spec.files:
            raise ApiError(422, "invalid_field", f"{name}: unknown file field", field=name)
