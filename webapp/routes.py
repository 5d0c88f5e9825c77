"""The one route table: every blueprint the web app serves."""

from __future__ import annotations

from flask import Flask

from webapp import ops, ui
from webapp.api import (
    batches,
    callbacks,
    events,
    health,
    jobs,
    metrics,
    openapi,
    progress,
    session,
    stats,
    webhooks,
)

BLUEPRINTS = (
    health.bp,
    jobs.bp,
    events.bp,
    batches.bp,
    session.bp,
    ui.bp,
    metrics.bp,
    stats.bp,
    ops.bp,
    callbacks.bp,
    webhooks.bp,
    progress.bp,
    openapi.bp,
)
"""Registered in this order; each owns one URL area."""


def register(app: Flask) -> None:
    """Attach every blueprint to the app."""
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
