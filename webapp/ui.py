"""The web UI: one server-rendered page plus a little JavaScript, no build step.

The page holds no data of its own: the browser signs in with an API key and
reads everything from /api/v1, so a reload always shows what the server knows.
Signing in also starts a session (POST /api/v1/session) whose cookie lets the
page stream job events and show result images, which cannot carry the key.
"""

from __future__ import annotations

from typing import get_args

from flask import Blueprint, render_template

from config import get_settings
from tasks.models import LANES
from tasks.pipelines import KINDS
from tasks.states import STATUSES
from webapp.api.schemas import IMAGE_SIZES, TIER_LANES, ImageInput

bp = Blueprint("ui", __name__)

IMAGE_QUALITIES: tuple[str, ...] = get_args(ImageInput.model_fields["quality"].annotation)
"""Quality choices of the image form, read from the API's own schema."""

PRIORITIES: tuple[str, ...] = LANES[::-1]
"""Priority choices of the form, least urgent first; the page hides what a tier may not use."""

VIP_PRIORITIES = frozenset(LANES) - frozenset(TIER_LANES["standard"])
"""Priorities marked VIP in the form."""


@bp.get("/")
def index() -> str:
    """The single-page UI: sign in with an API key, submit jobs, watch them run."""
    return render_template(
        "index.html",
        image_sizes=IMAGE_SIZES,
        image_qualities=IMAGE_QUALITIES,
        priorities=PRIORITIES,
        vip_priorities=VIP_PRIORITIES,
        statuses=STATUSES,
        kinds=KINDS,
        tryon_max_mib=f"{get_settings().tryon_max_image_bytes / 2**20:g}",
    )
