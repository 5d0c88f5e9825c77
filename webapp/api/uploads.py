"""Multipart job submits: POST /api/v1/jobs with form fields and files instead of JSON.

The form's `kind` picks a per-kind parser (`uploads_script`, ...) that turns the
fields and files into the same `{"kind", "input", "priority"}` request the JSON
path validates, so both paths share one set of rules. Errors name the form field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import request

from tasks.submit import JobSpec
from webapp.api.schemas import parse_job_request
from webapp.errors import ApiError

FormParser = Callable[[], tuple[dict[str, Any], dict[str, str]]]
"""Reads request.form/files; returns (job input, input field path -> form field name)."""


def _parsers() -> dict[str, FormParser]:
    from webapp.api import uploads_script

    return {"script": uploads_script.parse_script_form}


COMMON_FIELDS = frozenset({"kind", "priority"})
"""Form fields every kind takes."""


def parse_multipart_job(tier: str) -> JobSpec:
    """Validate a multipart submit; returns its spec or raises 4xx naming the form field."""
    kind = request.form.get("kind", "").strip()
    parsers = _parsers()
    if kind not in parsers:
        raise ApiError(
            422,
            "invalid_field",
            f"kind: multipart submits take kind {' or '.join(parsers)} (others send JSON)",
            field="kind",
        )
    job_input, form_names = parsers[kind]()
    body: dict[str, Any] = {"kind": kind, "input": job_input}
    if request.form.get("priority"):
        body["priority"] = request.form["priority"]
    try:
        return parse_job_request(body, tier)
    except ApiError as exc:
        if exc.field in form_names:  # name the form field the client actually sent
            name = form_names[exc.field]
            exc.message = exc.message.replace(exc.field, name, 1)
            exc.field = name
        raise


def reject_unknown_fields(allowed_fields: set[str], allowed_files: set[str]) -> None:
    """422 naming the first form field or file this kind does not take."""
    for name in request.form:
        if name not in allowed_fields | COMMON_FIELDS:
            raise ApiError(422, "invalid_field", f"{name}: unknown field", field=name)
    for name in request.files:
        if name not in allowed_files:
            raise ApiError(422, "invalid_field", f"{name}: unknown file field", field=name)
