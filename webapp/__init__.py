"""The web app: a thin Flask layer that takes jobs, answers about them, and never generates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from celery import Celery, Task
from flask import Flask, request
from flask_migrate import Migrate

from config import get_settings, service_urls
from config.logging import bind_request_context, ensure_logging
from config.settings import PROJECT_ROOT, secret_key
from tasks.db import db


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask app, its database handle and its Celery app."""
    settings = get_settings()
    ensure_logging()
    database_url, _ = service_urls()
    app = Flask(__name__)
    app.config.from_mapping(
        SECRET_KEY=secret_key(settings),
        SQLALCHEMY_DATABASE_URI=database_url,
        # Fail fast (then 503) instead of hanging when Postgres is down.
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "pool_size": 10,
            "connect_args": {"connect_timeout": 3},
        },
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the documented field order
    if test_config:
        app.config.update(test_config)
    db.init_app(app)
    Migrate(app, db, directory=str(PROJECT_ROOT / "migrations"), compare_type=True)
    celery_init_app(app)

    from webapp import cli, errors, routes

    errors.register(app)
    routes.register(app)
    cli.register(app)
    # Every line logged while serving a job's URL carries its job id.
    app.before_request(lambda: bind_request_context(request.view_args))
    return app


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app whose tasks run inside this Flask app's context."""

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery_app = Celery(app.name, task_cls=FlaskTask)
    celery_app.config_from_object("celeryconfig")
    celery_app.conf.update(app.config.get("CELERY", {}))
    celery_app.set_default()
    import tasks.flower_labels  # noqa: F401  (labels stage messages for Flower)
    import tasks.maintenance  # noqa: F401  (registers the beat tasks)
    import tasks.metrics  # noqa: F401  (counts committed job events, times stages)
    import tasks.provider_poll  # noqa: F401  (registers the provider poll task)
    import tasks.retention  # noqa: F401  (registers the retention task)
    import tasks.runner  # noqa: F401  (registers the stage tasks)
    import tasks.webhooks  # noqa: F401  (registers webhook delivery and its sweep)

    app.extensions["celery"] = celery_app
    return celery_app
