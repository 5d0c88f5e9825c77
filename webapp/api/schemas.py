"""Request bodies, validated strictly; errors name the field at fault."""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from flask import request as flask_request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config import get_settings
from tasks.models import LANES, TIERS
from tasks.pipelines import KINDS
from tasks.submit import JobSpec
from tasks.webhook_accounts import WebhookSpec
from tasks.webhook_outbox import EVENTS
from tasks.webhook_targets import MAX_URL_LENGTH, WebhookRefused, check_webhook_url
from webapp.errors import ApiError

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

    prompt: str = Field(min_length=1, max_length=4000)
    size: Literal[IMAGE_SIZES] = "1024x1024"  # type: ignore[valid-type]
    quality: Literal["auto", "low", "medium", "high"] = "auto"

    @field_validator("prompt")
    @classmethod
    def not_blank(cls, value: str) -> str:
        """A prompt of only spaces says nothing."""
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


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
    kind: model for kind, model in (("image", ImageInput), ("noop", NoopInput)) if kind in KINDS
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
