"""Request bodies, validated strictly; errors name the field at fault."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from flask import request as flask_request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config import get_settings
from tasks.models import LANES, TIERS
from tasks.pipelines import KINDS
from tasks.submit import JobSpec
from tasks.uploads import upload_exists
from tasks.webhook_accounts import WebhookSpec
from tasks.webhook_outbox import EVENTS
from tasks.webhook_targets import MAX_URL_LENGTH, WebhookRefused, check_webhook_url
from webapp.errors import ApiError

NOT_BLANK = {"pattern": r"\S"}
"""JSON Schema of the `not_blank` validators below, for the OpenAPI document only."""

IMAGE_SIZES = ("256x256", "512x512", "1024x1024", "1024x1536", "1536x1024")
"""Sizes the image pipeline accepts (what gpt-image models produce)."""

M = TypeVar("M", bound=BaseModel)

TIER_LANES: dict[str, tuple[str, ...]] = {"vip": LANES, "standard": ("default", "low")}
"""tier -> the lanes its jobs may use; a job may ask for less, never more."""

assert set(TIER_LANES) == set(TIERS)


class Strict(BaseModel):
    """Unknown fields are errors, and values are not coerced between types."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ImageInput(Strict):
    """Input of an `image` job."""

    prompt: str = Field(min_length=1, max_length=4000, json_schema_extra=NOT_BLANK)
    size: Literal[IMAGE_SIZES] = "1024x1024"  # type: ignore[valid-type]
    quality: Literal["auto", "low", "medium", "high"] = "auto"

    @field_validator("prompt")
    @classmethod
    def not_blank(cls, value: str) -> str:
        """A prompt of only spaces says nothing."""
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class TryonInput(Strict):
    """Input of a `tryon` job: digests of stored uploads (multipart submit) and the occasion."""

    human_image: str = Field(pattern=r"^[0-9a-f]{64}$")
    garment_image: str = Field(pattern=r"^[0-9a-f]{64}$")
    occasion: str = Field(min_length=1, max_length=200, json_schema_extra=NOT_BLANK)

    @field_validator("human_image", "garment_image")
    @classmethod
    def uploaded(cls, value: str) -> str:
        """A digest must name an image uploaded earlier (POST /jobs as multipart/form-data)."""
        if not upload_exists(value):
            raise ValueError("no uploaded image has this digest; send the image as multipart")
        return value

    @field_validator("occasion")
    @classmethod
    def occasion_not_blank(cls, value: str) -> str:
        """An occasion of only spaces says nothing."""
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class ScriptInput(Strict):
    """Input of a `script` job: a novel (Chinese or English) and how to adapt it."""

    text: str = Field(min_length=1, json_schema_extra=NOT_BLANK)
    style: str | None = Field(default=None, max_length=200)
    episodes: int | None = Field(default=None, ge=1, le=100)
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

    @field_validator("text")
    @classmethod
    def has_text(cls, value: str) -> str:
        """A novel of only spaces has nothing to adapt."""
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("style")
    @classmethod
    def blank_style_is_none(cls, value: str | None) -> str | None:
        """An empty style means no style."""
        return value.strip() or None if value is not None else None


class WebhookRequest(Strict):
    """A webhook: where to POST, and which events (all when left out)."""

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    events: list[Literal[EVENTS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(EVENTS), min_length=1
    )


class JobRequest(Strict):
    """Body of POST /api/v1/jobs."""

    kind: str
    input: dict[str, Any]
    priority: Literal["high", "default", "low"] | None = None
    webhook: WebhookRequest | None = None


class NoopInput(Strict):
    """Input of a `noop` job (benchmarks only): nothing."""


INPUT_MODELS: dict[str, type[Strict]] = {
    kind: model
    for kind, model in (
        ("image", ImageInput),
        ("script", ScriptInput),
        ("tryon", TryonInput),
        ("noop", NoopInput),
    )
    if kind in KINDS
}
"""kind -> the model its `input` must satisfy."""

assert set(INPUT_MODELS) == set(KINDS)


def json_body() -> Any:
    """The request's JSON body, or 400 when it is not JSON."""
    body = flask_request.get_json(silent=True)
    if body is None:
        raise ApiError(
            400, "invalid_json", "the body must be JSON (Content-Type: application/json)"
        )
    return body


def parse_job_request(body: object, tier: str, *, prefix: str = "") -> JobSpec:
    """Validate one job's request; returns its spec or raises 422 naming the field."""
    request = _validate(JobRequest, body, prefix=prefix)
    if request.kind not in INPUT_MODELS:
        raise ApiError(
            422,
            "invalid_field",
            f"kind must be one of: {', '.join(INPUT_MODELS)}",
            field=f"{prefix}kind",
        )
    job_input = _validate(INPUT_MODELS[request.kind], request.input, prefix=f"{prefix}input.")
    if isinstance(job_input, ScriptInput):
        check_novel_size(len(job_input.text.encode()), field=f"{prefix}input.text")
    allowed = TIER_LANES[tier]
    lane = request.priority or allowed[0]
    if lane not in allowed:
        raise ApiError(
            422,
            "invalid_field",
            f"priority {lane!r} is above what the {tier} tier allows ({', '.join(allowed)})",
            field=f"{prefix}priority",
        )
    webhook = checked_webhook(request.webhook, f"{prefix}webhook.") if request.webhook else None
    return JobSpec(kind=request.kind, input=job_input.model_dump(), lane=lane, webhook=webhook)


def checked_webhook(webhook: WebhookRequest, prefix: str = "") -> WebhookSpec:
    """The webhook as a spec, or 422 naming `<prefix>url` when the SSRF guard refuses it."""
    try:
        check_webhook_url(webhook.url, allowed_hosts=get_settings().webhooks.allowed_hosts)
    except WebhookRefused as exc:
        field = f"{prefix}url"
        raise ApiError(422, "invalid_field", f"{field}: {exc}", field=field) from None
    return WebhookSpec(url=webhook.url, events=tuple(dict.fromkeys(webhook.events)))


def validate(model: type[M], data: object, *, prefix: str = "") -> M:
    """Validate `data` against `model`, or 422 naming the first field at fault."""
    return _validate(model, data, prefix=prefix)


def check_novel_size(size_bytes: int, *, field: str) -> None:
    """413 naming `field` when a novel is over SCRIPT_MAX_NOVEL_BYTES."""
    limit = get_settings().script_max_novel_bytes
    if size_bytes > limit:
        raise ApiError(
            413,
            "request_entity_too_large",
            f"{field}: the novel is larger than the limit of {limit:,} bytes "
            "(SCRIPT_MAX_NOVEL_BYTES)",
            field=field,
        )


def _validate(model: type[M], data: object, *, prefix: str) -> M:
    if not isinstance(data, dict):
        field = prefix.rstrip(".") or None
        raise ApiError(422, "invalid_field", "must be a JSON object", field=field)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = prefix + ".".join(str(part) for part in first["loc"])
        message = first["msg"] if first["type"] != "extra_forbidden" else "unknown field"
        raise ApiError(422, "invalid_field", f"{field}: {message}", field=field) from None
