"""GET /ops: the operators' page. It holds no data: the browser reads /api/v1/stats."""

from __future__ import annotations

from flask import Blueprint, render_template

from webapp.auth import session_user

bp = Blueprint("ops", __name__)


@bp.get("/ops")
def ops_page() -> tuple[str, int]:
    """The operators' page for a signed-in admin; a short explanation (401/403) for anyone else."""
    user = session_user()
    if user is None:
        return render_template("ops.html", allowed=False, reason="signed_out"), 401
    if not user.is_admin:
        return render_template("ops.html", allowed=False, reason="not_admin"), 403
    return render_template("ops.html", allowed=True, user=user), 200
