"""GET /api/v1/openapi.json: an OpenAPI 3.1 document of every route the API serves.

Built once per app from three sources, so it cannot drift far from the code:
the URL map (paths and methods), the views' docstrings (summaries and examples),
and the pydantic models (request bodies from `webapp.api.schemas`, answers from
`webapp.api.openapi_models`), with the route table `openapi_routes.ROUTES` adding
who may call each route and what it answers.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from webapp.api.openapi_models import ANSWER_MODELS, REQUEST_MODELS
from webapp.api.openapi_routes import PATH_PARAMS, ROUTES, Route, json_answer
from webapp.api.progress import SECRET_HEADER, ProgressPush
from webapp.api.schemas import INPUT_MODELS, JobRequest, WebhookRequest

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

URL_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
"""A variable in a Flask rule, with or without a converter; group 1 is its name."""

REF = "#/components/schemas/{model}"
"""Where the document keeps every schema."""

ERRORS = {
    400: "the body is not JSON",
    401: "no credentials, or bad ones",
    403: "the caller may not do this",
    404: "no such resource, or another user's",
    409: "illegal transition, or an Idempotency-Key reused with another body",
    413: "the request or an uploaded file is too large",
    422: "bad input: `error.field` names the field, `error.message` says why",
    429: "over a quota or rate limit: wait `Retry-After` seconds",
    503: "a dependency (Postgres or the broker) is down: retry after `Retry-After` seconds",
}
"""Error statuses and what each means; every error answers with the `Error` schema."""

SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key (`gj_...`), printed by `flask --app webapp users create NAME`",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "set by POST /api/v1/session; counts for GET only (EventSource, <img>)",
    },
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": "a Standard Webhooks signature with webhook-id and webhook-timestamp, "
        "made with PROVIDER_CALLBACK_SECRET",
    },
    "progressSecret": {
        "type": "apiKey",
        "in": "header",
        "name": SECRET_HEADER,
        "description": "the shared secret PROGRESS_PUSH_SECRET",
    },
}

DESCRIPTION = """\
Submit long AI-generation jobs, watch them run (poll or Server-Sent Events), cancel or
retry them, and download their results. Authenticate with `Authorization: Bearer <API key>`.
Errors answer `{"error": {"code", "message", "field"?}}` with the status that fits."""


@bp.get("/openapi.json")
def openapi_json() -> Response:
    """This API as an OpenAPI 3.1 document (no credentials needed).

    Response: {"openapi": "3.1.0", "info": {...}, "paths": {"/api/v1/jobs": {...}, ...}}
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    document = app.extensions.get("openapi")
    if document is None:  # the routes and kinds are fixed once the app is built
        document = app.extensions["openapi"] = openapi_document(app)
    return jsonify(document)


def openapi_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI document of `app`'s documented routes."""
    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    paths: dict[str, dict[str, Any]] = {}
    tags: dict[str, str] = {}
    for route in ROUTES:
        rule = rules[route.endpoint]  # a row for a route that is gone fails loudly here
        view = app.view_functions[route.endpoint]
        tag = route.endpoint.split(".")[0]
        tags.setdefault(tag, _first_line(sys.modules[view.__module__].__doc__))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = _operation(route, rule, method, view.__doc__, tag)
            paths.setdefault(openapi_path(rule), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "genjobs", "version": "1", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [{"name": name, "description": text} for name, text in tags.items()],
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "responses": {
                str(status): json_answer("Error", text) for status, text in ERRORS.items()
            },
            "securitySchemes": {
                **SECURITY_SCHEMES,
                "session": {
                    **SECURITY_SCHEMES["session"],
                    "name": app.config["SESSION_COOKIE_NAME"],
                },
            },
        },
    }


def openapi_path(rule: Rule) -> str:
    """The rule's path in OpenAPI's spelling: `<job_id>` becomes `{job_id}`."""
    return URL_VARIABLE.sub(r"{\1}", rule.rule)


def component_schemas() -> dict[str, Any]:
    """JSON Schema of every request and answer model, keyed by model name."""
    models = (JobRequest, WebhookRequest, ProgressPush, *INPUT_MODELS.values())
    models += REQUEST_MODELS + ANSWER_MODELS
    _, top = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    schemas: dict[str, Any] = top["$defs"]
    _add_input_per_kind(schemas["JobRequest"])
    schemas["JobForm"] = {
        "description": "A multipart submit: kinds with files (others are submitted as JSON).",
        "oneOf": [{"$ref": REF.format(model=name)} for name in ("TryonForm", "ScriptForm")],
    }
    return schemas


def _add_input_per_kind(job_request: dict[str, Any]) -> None:
    """`kind` picks the schema `input` must meet, as `parse_job_request` does."""
    kind = job_request["properties"]["kind"]
    kind["enum"] = list(INPUT_MODELS)
    kind["description"] = "the job kind; it picks the schema of `input`"
    job_request["properties"]["input"]["description"] = (
        "the kind's input (tryon: digests of images uploaded by a multipart submit)"
    )
    job_request["properties"]["priority"]["description"] = (
        "the lane: standard users may ask for default or low, vip users also high "
        "(GET /api/v1/me lists the caller's); the tier's first lane when left out"
    )
    job_request["oneOf"] = [
        {
            "properties": {
                "kind": {"const": kind_name},
                "input": {"$ref": REF.format(model=model.__name__)},
            }
        }
        for kind_name, model in INPUT_MODELS.items()
    ]


def _operation(route: Route, rule: Rule, method: str, doc: str | None, tag: str) -> dict[str, Any]:
    """One operation object: docs from the view, the rest from the route table."""
    text = inspect.cleandoc(doc or route.endpoint)
    operation: dict[str, Any] = {
        "operationId": route.endpoint,
        "tags": [tag],
        "summary": _first_line(text),
        "description": text,
        "security": _security(route, method),
    }
    path_params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": PATH_PARAMS.get(name, name),
            "schema": {"type": "string"},
        }
        for name in URL_VARIABLE.findall(rule.rule)
    ]
    if parameters := path_params + list(route.params):
        operation["parameters"] = parameters
    if route.body:
        operation["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": {"$ref": REF.format(model=name)}}
                for media, name in route.body.items()
            },
        }
    responses: dict[str, Any] = {str(status): answer for status, answer in route.answers.items()}
    for status in _error_statuses(route):
        responses.setdefault(str(status), {"$ref": f"#/components/responses/{status}"})
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def _security(route: Route, method: str) -> list[dict[str, list[str]]]:
    if route.auth == "key":
        # The session cookie authenticates reads only (webapp.auth.require_api_key).
        return [{"apiKey": []}, {"session": []}] if method == "GET" else [{"apiKey": []}]
    return {
        "public": [],
        "signed": [{"standardWebhooks": []}],
        "push": [{"progressSecret": []}],
    }[route.auth]


def _error_statuses(route: Route) -> list[int]:
    statuses = set(route.errors)
    if route.auth != "public":
        statuses.add(401)
    if route.auth == "key":  # the key is looked up in Postgres
        statuses.add(503)
    return sorted(statuses)


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""
