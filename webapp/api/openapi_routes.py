"""The route table of the OpenAPI document: per endpoint, who may call it and what goes in and out.

Paths and methods are read from the app's URL map and summaries from the views'
docstrings, so the table holds only what the code cannot tell. A route the app
serves under /api/v1 without a row here is missing from the document, and
tests/webapp/test_openapi.py fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tasks.pipelines import KINDS
from tasks.states import STATUSES
from webapp.api.jobs import PAGE_SIZE_MAX
from webapp.api.submission import MAX_KEY_LENGTH

Auth = Literal["key", "public", "signed", "push"]
"""`key`: Bearer API key (or, for GET, the session cookie); `signed`: Standard Webhooks
signature; `push`: X-Progress-Secret; `public`: no credentials."""

STRING = {"type": "string"}
INTEGER = {"type": "integer"}


def header(description: str, schema: dict[str, Any] = STRING) -> dict[str, Any]:
    """A response header."""
    return {"description": description, "schema": schema}


def param(
    where: str, name: str, description: str, schema: dict[str, Any] = STRING
) -> dict[str, Any]:
    """An optional query or header parameter."""
    return {"name": name, "in": where, "description": description, "schema": schema}


def json_answer(
    schema: str, description: str, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A JSON answer whose body is the component schema named `schema`."""
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": header("submits allowed per minute", INTEGER),
    "RateLimit-Remaining": header("submits left this minute", INTEGER),
    "RateLimit-Reset": header("seconds until the minute's count resets", INTEGER),
}
"""Sent with every submit answer (webapp/quotas.py)."""

SUBMIT_HEADERS = {
    "Location": header("the URL of what was created"),
    "Idempotent-Replayed": header('"true" when this answers an earlier request with the same key'),
    **RATE_LIMIT_HEADERS,
}

IDEMPOTENCY_KEY = param(
    "header",
    "Idempotency-Key",
    "repeat a submit safely: the same key and body answer with the first submit's jobs; "
    "the same key with another body is 409",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
)

PATH_PARAMS = {
    "job_id": "the job's id",
    "batch_id": "the batch's id",
    "name": "an artifact's name, as listed in the job's `result.artifacts`",
    "provider": "the provider calling back (`openai`)",
    "token": "the callback token the stage gave the provider",
}
"""Descriptions of the URL variables."""


@dataclass(frozen=True, kw_only=True)
class Route:
    """One documented endpoint; its path and methods come from the app's URL map."""

    endpoint: str
    answers: dict[int, dict[str, Any]]
    auth: Auth = "key"
    body: dict[str, str] = field(default_factory=dict)
    """Media type -> the component schema of the request body."""
    errors: tuple[int, ...] = ()
    """Error statuses besides 401 (added for any credentials) and 503 (added for `key`)."""
    params: tuple[dict[str, Any], ...] = ()


JSON = "application/json"

ROUTES: tuple[Route, ...] = (
    Route(
        endpoint="jobs.create_job",
        body={JSON: "JobRequest", "multipart/form-data": "JobForm"},
        answers={202: json_answer("Job", "accepted: the job, pending", SUBMIT_HEADERS)},
        errors=(400, 409, 413, 422, 429),
        params=(IDEMPOTENCY_KEY,),
    ),
    Route(
        endpoint="jobs.list_jobs",
        answers={200: json_answer("JobList", "a page of the caller's jobs")},
        errors=(422,),
        params=(
            param("query", "status", "only jobs in this status", {"enum": list(STATUSES)}),
            param("query", "kind", "only jobs of this kind", {"enum": list(KINDS)}),
            param(
                "query",
                "limit",
                "jobs per page",
                {**INTEGER, "minimum": 1, "maximum": PAGE_SIZE_MAX, "default": 20},
            ),
            param("query", "cursor", "`next_cursor` of the previous page"),
        ),
    ),
    Route(
        endpoint="jobs.get_job",
        answers={
            200: json_answer(
                "Job",
                "the job",
                {
                    "ETag": header("changes whenever the job does"),
                    "Retry-After": header("while active: seconds until a poll is useful", INTEGER),
                },
            ),
            304: {"description": "not modified since the ETag sent in If-None-Match"},
        },
        errors=(404,),
        params=(param("header", "If-None-Match", "the ETag of the copy the client has"),),
    ),
    Route(
        endpoint="jobs.cancel",
        answers={200: json_answer("Job", "the job, canceled or being canceled")},
        errors=(404, 409),
    ),
    Route(
        endpoint="jobs.retry",
        answers={202: json_answer("Job", "the job, pending again")},
        errors=(404, 409),
    ),
    Route(
        endpoint="jobs.download_artifact",
        answers={
            200: {
                "description": "the file, with its own content type",
                "content": {"*/*": {"schema": {"contentMediaType": "application/octet-stream"}}},
            }
        },
        errors=(404,),
        params=(param("query", "download", "`1`: send as an attachment to save"),),
    ),
    Route(
        endpoint="events.stream_events",
        answers={
            200: {
                "description": "Server-Sent Events: `status`, `stage` and `progress` events "
                "(id = the event's seq; data = {status, stage, progress, message, eta_seconds}), "
                "`queue` events while pending ({queue_position, eta_seconds}), and "
                "`: keep-alive` comments; the stream ends after a final status",
                "content": {"text/event-stream": {"schema": STRING}},
            }
        },
        errors=(404, 422),
        params=(
            param(
                "header",
                "Last-Event-ID",
                "resume after this event id",
                {"type": "string", "pattern": "^[0-9]+$"},
            ),
            param("query", "last_event_id", "the same, for clients that cannot set headers"),
        ),
    ),
    Route(
        endpoint="progress.push_progress",
        auth="push",
        body={JSON: "ProgressPush"},
        answers={200: json_answer("ProgressState", "the job's progress now")},
        errors=(400, 404, 409, 422),
    ),
    Route(
        endpoint="webhooks.delivery_log",
        answers={200: json_answer("DeliveryLog", "the job's webhook deliveries")},
        errors=(404,),
    ),
    Route(
        endpoint="batches.create_batch",
        body={JSON: "BatchRequest"},
        answers={202: json_answer("Batch", "accepted: the batch, pending", SUBMIT_HEADERS)},
        errors=(400, 409, 413, 422, 429),
        params=(IDEMPOTENCY_KEY,),
    ),
    Route(
        endpoint="batches.get_batch",
        answers={200: json_answer("Batch", "the batch")},
        errors=(404,),
    ),
    Route(
        endpoint="batches.cancel_batch",
        answers={200: json_answer("Batch", "the batch; its unfinished jobs are canceled")},
        errors=(404,),
    ),
    Route(
        endpoint="callbacks.provider_callback",
        auth="signed",
        body={JSON: "ProviderCallback"},
        answers={
            202: json_answer("CallbackAnswer", "the waiting stage was woken"),
            200: json_answer("CallbackAnswer", "no stage waits on this callback: nothing changed"),
        },
        errors=(400, 404, 422, 503),
    ),
    Route(endpoint="session.me", answers={200: json_answer("Me", "the calling user")}),
    Route(
        endpoint="session.start_session",
        answers={
            200: json_answer(
                "Me",
                "the calling user; the session cookie is set",
                {"Set-Cookie": header("the HttpOnly session cookie")},
            )
        },
    ),
    Route(
        endpoint="session.end_session",
        auth="public",
        answers={204: {"description": "the session is forgotten"}},
    ),
    Route(
        endpoint="stats.stats",
        answers={200: json_answer("Stats", "service figures")},
        errors=(403,),
    ),
    Route(
        endpoint="webhooks.put_default",
        body={JSON: "WebhookRequest"},
        answers={200: json_answer("DefaultWebhook", "the default webhook now")},
        errors=(400, 422),
    ),
    Route(
        endpoint="webhooks.get_default",
        answers={200: json_answer("DefaultWebhook", "the default webhook")},
        errors=(404,),
    ),
    Route(endpoint="webhooks.delete_default", answers={204: {"description": "no default now"}}),
    Route(
        endpoint="webhooks.get_secret",
        answers={200: json_answer("WebhookSecret", "the signing secret")},
    ),
    Route(
        endpoint="webhooks.rotate",
        answers={200: json_answer("RotatedSecret", "the new signing secret")},
    ),
    Route(
        endpoint="openapi.openapi_json",
        auth="public",
        answers={200: {"description": "this document", "content": {JSON: {"schema": {}}}}},
    ),
    Route(endpoint="health.healthz", auth="public", answers={200: json_answer("Health", "up")}),
    Route(
        endpoint="health.readyz",
        auth="public",
        answers={
            200: json_answer("Ready", "Postgres and the broker answer"),
            503: json_answer("Ready", "a dependency is down; `checks` names it"),
        },
    ),
    Route(
        endpoint="metrics.metrics",
        auth="public",
        answers={
            200: {
                "description": "Prometheus exposition text",
                "content": {"text/plain; version=0.0.4": {"schema": STRING}},
            }
        },
    ),
)
"""Every documented endpoint, in the order the document lists them."""
