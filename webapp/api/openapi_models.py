"""Shapes the OpenAPI document declares that have no request model of their own.

The request bodies the API validates come from `webapp.api.schemas` (and
`progress.ProgressPush`); this module declares, once, what the API answers (the
job JSON of DESIGN.md, the error JSON, batches, webhooks, ...) and the request
shapes that are checked by hand (multipart submits, batches, provider callbacks).
Nothing here validates a request: these models exist to be turned into JSON
Schema, and tests check real answers against them. Answers forbid unknown fields,
so a field added to an answer without being documented fails those tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from tasks.models import LANES, TIERS
from tasks.states import STATUSES
from tasks.webhook_outbox import EVENTS
from webapp.api.batches import MAX_BATCH_JOBS
from webapp.api.jobs import PAGE_SIZE_MAX
from webapp.api.schemas import JobRequest, Strict

Status = Literal[STATUSES]  # type: ignore[valid-type]
Lane = Literal[LANES]  # type: ignore[valid-type]
Moment = datetime | None
Upload = Annotated[bytes, WithJsonSchema({"type": "string", "contentMediaType": "image/*"})]
"""A file part of a multipart form."""


class Answer(BaseModel):
    """An answer's shape: every field is always sent (null when empty); no others."""

    model_config = ConfigDict(extra="forbid")


class ErrorDetail(Answer):
    """What went wrong: a stable code, a message for people, and the request field at fault."""

    code: str = Field(examples=["invalid_field"])
    message: str
    field: str | None = Field(default=None, description="sent for bad input only")


class Error(Answer):
    """Every error answer: {"error": {"code", "message", "field"?}}."""

    error: ErrorDetail


class StageShown(Answer):
    """One pipeline stage of a job."""

    name: str
    status: Literal["pending", "running", "waiting", "completed", "failed", "canceled"]
    attempts: int
    started_at: Moment
    finished_at: Moment


class Artifact(Answer):
    """A result file; `url` downloads it (owner only)."""

    name: str
    url: str
    content_type: str
    size: int = Field(description="bytes")


class JobResult(BaseModel):
    """What a completed job produced: files, and for some kinds text and facts about it."""

    model_config = ConfigDict(extra="allow")

    artifacts: list[Artifact] = Field(default_factory=list)
    text: str | None = None


class JobError(BaseModel):
    """Why a job failed; `retryable` says whether POST .../retry may help."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    retryable: bool


class WebhookShown(Answer):
    """Where a job's events are POSTed."""

    url: str
    events: list[Literal[EVENTS]]  # type: ignore[valid-type]


class Job(Answer):
    """The job JSON (GET /api/v1/jobs/{id}); admins also get `flower_url`."""

    id: str
    kind: str
    status: Status
    stage: str | None
    stages: list[StageShown]
    progress: int = Field(ge=0, le=100)
    message: str | None
    queue_position: int | None = Field(description="pending jobs only: 1 = next to run")
    eta_seconds: float | None
    priority: Lane
    input: dict[str, Any] = Field(description="a novel is cut to 500 characters (`text_chars`)")
    webhook: WebhookShown | None
    result: JobResult | None
    error: JobError | None
    attempts: int
    created_at: datetime
    started_at: Moment
    finished_at: Moment
    updated_at: Moment
    flower_url: str | None = Field(default=None, description="admins only")


class JobList(Answer):
    """A page of the caller's jobs, newest first; pass `next_cursor` as `cursor` for more."""

    data: list[Job] = Field(max_length=PAGE_SIZE_MAX)
    next_cursor: str | None


class TryonForm(BaseModel):
    """POST /api/v1/jobs as multipart/form-data for a `tryon` job (PNG, JPEG or WebP photos)."""

    kind: Literal["tryon"]
    priority: Lane | None = None
    human_image: Upload
    garment_image: Upload
    occasion: str = Field(min_length=1, max_length=200)


class ScriptForm(BaseModel):
    """POST /api/v1/jobs as multipart/form-data for a `script` job: the novel as UTF-8 text."""

    kind: Literal["script"]
    priority: Lane | None = None
    novel: Annotated[bytes, WithJsonSchema({"type": "string", "contentMediaType": "text/plain"})]
    style: str | None = Field(default=None, max_length=200)
    episodes: int | None = Field(default=None, ge=1, le=100)
    language: str | None = None


class BatchRequest(Strict):
    """Body of POST /api/v1/batches: all jobs are valid, or none is created."""

    jobs: list[JobRequest] = Field(min_length=1, max_length=MAX_BATCH_JOBS)


class BatchJob(Answer):
    """One job of a batch, in brief."""

    id: str
    kind: str
    status: Status
    stage: str | None
    progress: int
    error: JobError | None
    url: str


class Batch(Answer):
    """A batch: overall status, mean progress, counts per status, and its jobs in order."""

    id: str
    status: Status
    progress: int
    total: int
    counts: dict[str, int]
    created_at: datetime
    jobs: list[BatchJob]


class Me(Answer):
    """The calling user and the priorities their tier may ask for."""

    name: str
    tier: Literal[TIERS]  # type: ignore[valid-type]
    priorities: list[Lane]


class DefaultWebhook(Answer):
    """The caller's default webhook; `disabled_at` is set when the receiver answered 410."""

    url: str
    events: list[Literal[EVENTS]]  # type: ignore[valid-type]
    disabled_at: Moment
    disabled_reason: str | None


class WebhookSecret(Answer):
    """The key that signs the caller's webhooks (Standard Webhooks)."""

    key: str = Field(examples=["whsec_..."])


class RotatedSecret(WebhookSecret):
    """A new signing key; the previous one also signs until `previous_key_expires_at`."""

    previous_key_expires_at: Moment


class DeliveryAttempt(Answer):
    """One try at delivering a webhook."""

    attempt: int
    status_code: int | None
    latency_ms: int | None
    error: str | None
    next_attempt_at: Moment
    at: Moment


class Delivery(Answer):
    """One webhook message about a job, with its attempts."""

    id: str
    event: Literal[EVENTS]  # type: ignore[valid-type]
    status: str
    url: str
    attempts: list[DeliveryAttempt]
    next_attempt_at: Moment
    created_at: Moment
    finished_at: Moment


class DeliveryLog(Answer):
    """A job's webhook deliveries, oldest first."""

    data: list[Delivery]


class ProgressState(Answer):
    """A job's progress after a push."""

    id: str
    status: Status
    stage: str | None
    progress: int
    message: str | None


class ProviderCallback(BaseModel):
    """A provider's notice that its job changed (OpenAI webhook event); only `data.id` is read."""

    type: str = Field(examples=["response.completed"])
    data: dict[str, Any] = Field(examples=[{"id": "resp_..."}])


class CallbackAnswer(Answer):
    """Whether a stage was waiting on this callback (and was woken)."""

    accepted: bool
    job_id: str | None = None
    stage: str | None = None
    reason: str | None = None


class Health(Answer):
    """The process is up."""

    status: Literal["ok"]


class Ready(Answer):
    """Whether Postgres and the broker answer; each check is "ok" or names the error."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class Stats(Answer):
    """Service figures per window ("1h", "24h"), queue depths now (null: broker down), in flight."""

    windows: dict[str, dict[str, Any]]
    queues: list[dict[str, Any]] | None
    in_flight: list[dict[str, Any]]
    flower_url: str | None
    generated_at: datetime


REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    BatchRequest,
    TryonForm,
    ScriptForm,
    ProviderCallback,
)
"""Request shapes declared here (the validated ones live in webapp.api.schemas)."""

ANSWER_MODELS: tuple[type[BaseModel], ...] = (
    Error,
    Job,
    JobList,
    Batch,
    Me,
    DefaultWebhook,
    WebhookSecret,
    RotatedSecret,
    DeliveryLog,
    ProgressState,
    CallbackAnswer,
    Health,
    Ready,
    Stats,
)
"""Answer shapes, each a component of the document."""
