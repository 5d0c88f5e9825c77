"""Provider callbacks: POST /api/v1/callbacks/{provider}/{token} wakes a parked stage.

The request must carry a Standard Webhooks signature (webhook-id,
webhook-timestamp, webhook-signature) made with PROVIDER_CALLBACK_SECRET — the
scheme OpenAI's webhooks use. A valid callback does not trust a result in its
body: it sends the stage's poll at once and the poll asks the provider, so
callbacks and polls take one path, repeat harmlessly, and the first to see the
result wins. A callback about nothing that waits changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from config import get_settings
from tasks.provider_jobs import send_poll, waiting_stage_for_callback
from webapp.errors import ApiError

bp = Blueprint("callbacks", __name__, url_prefix="/api/v1/callbacks")

CALLBACK_PROVIDERS = frozenset({"openai"})
"""Providers whose jobs can run on their side and call us back."""


@bp.post("/<provider>/<token>")
def provider_callback(provider: str, token: str) -> tuple[Response, int]:
    """Wake the stage waiting on a provider's job.

    Request: webhook-id/-timestamp/-signature headers;
             {"type": "response.completed", "data": {"id": "resp_..."}}
    Response: 202 {"accepted": true, "job_id": "..."}  or 200 {"accepted": false}
    """
    body = request.get_data(cache=False)
    _verify(provider, body)
    provider_job_id = _provider_job_id(body)
    waiting = waiting_stage_for_callback(token, provider_job_id)
    if waiting is None:
        return jsonify(accepted=False, reason="no stage is waiting on this callback"), 200
    if provider_job_id and provider_job_id != waiting.provider_job_id:
        raise ApiError(
            422, "invalid_field", "this callback names another provider job", field="data.id"
        )
    if not send_poll(waiting.job_id, waiting.stage, waiting.fence, countdown_s=0):
        raise ApiError(
            503, "broker_unavailable", "cannot take callbacks now", headers={"Retry-After": "5"}
        )
    return jsonify(accepted=True, job_id=waiting.job_id, stage=waiting.stage), 202


def _verify(provider: str, body: bytes) -> None:
    secret = get_settings().provider_callback_secret
    if provider not in CALLBACK_PROVIDERS or secret is None:
        raise ApiError(404, "not_found", f"callbacks from {provider!r} are not enabled here")
    try:
        Webhook(secret).verify(body, dict(request.headers), json_parse=False)
    except (WebhookVerificationError, ValueError) as exc:  # malformed headers raise ValueError
        raise ApiError(401, "invalid_signature", f"callback signature rejected: {exc}") from None


def _provider_job_id(body: bytes) -> str | None:
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise ApiError(400, "invalid_json", "the callback body is not JSON") from None
    data = payload.get("data") if isinstance(payload, dict) else None
    job_id = data.get("id") if isinstance(data, dict) else None
    if job_id is not None and not isinstance(job_id, str):
        raise ApiError(422, "invalid_field", "data.id must be a string", field="data.id")
    return job_id
