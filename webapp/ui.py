"""The web UI: server-rendered pages plus a little JavaScript, no build step."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("ui", __name__)


@bp.get("/")
def index() -> str:
    """The single-page UI: sign in with an API key, submit jobs, watch them run."""
    return render_template("index.html")
