"""/api/v1/session and /api/v1/me: who is calling, and a browser session for reading."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, session

from webapp.api.schemas import TIER_LANES
from webapp.auth import current_user, require_api_key

bp = Blueprint("session", __name__, url_prefix="/api/v1")


@bp.get("/me")
@require_api_key
def me() -> Response:
    """The calling user.

    Response: {"name": "demo", "tier": "standard", "priorities": ["default", "low"]}
    """
    user = current_user()
    return jsonify(name=user.name, tier=user.tier, priorities=list(TIER_LANES[user.tier]))


@bp.post("/session")
@require_api_key
def start_session() -> Response:
    """Set a session cookie (HttpOnly) that authenticates GET requests from this browser.

    Request:  Authorization: Bearer gj_...
    Response: {"name": "demo", "tier": "standard", "priorities": [...]}
    """
    session.clear()
    session["api_key_id"] = g.api_key_id
    return me()


@bp.delete("/session")
def end_session() -> tuple[str, int]:
    """Forget this browser's session.

    Response: 204
    """
    session.clear()
    return "", 204
