"""Logging: structlog for every line, JSON by default, readable when stderr is a terminal.

Standard-library loggers (Celery, Flask, gunicorn, our own `logging.getLogger`)
go through the same formatter, so every line of every process has one shape.
Context bound with `bind_job_context` (a Celery stage task binds its job id,
stage and attempt before it runs; a web request binds the job id of its URL)
is added to every line logged meanwhile, structlog's or stdlib's alike.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from celery import signals

from config import get_settings

STAGE_TASK_PREFIX = "stage."
"""Stage tasks are named `stage.<name>` and take `(job_id, expected_attempts)`."""

JOB_FIELDS = ("job_id", "stage", "attempt", "task_id")
"""Context keys a job's lines carry."""

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (pytest swaps it per test).

    Logs go to stderr, as Celery's and gunicorn's always did, so a command's own
    output on stdout (`flask users create` prints a key) is never mixed with them.
    """

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__()
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        """The fixed stream, else the current stderr."""
        return sys.stderr if self._fixed is None else self._fixed

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # StreamHandler.__init__ assigns sys.stderr; we resolve at write time instead


def _renderer(fmt: str, stream: TextIO | None) -> list[Any]:
    target = stream or sys.stderr
    if fmt == "console" or (fmt == "auto" and target.isatty()):
        return [structlog.dev.ConsoleRenderer(colors=target.isatty())]
    return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer(default=str)]


def configure_logging(
    *, level: str | None = None, fmt: str | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Send structlog and stdlib logging to one handler on stderr (or `stream`); idempotent."""
    settings = get_settings()
    level = level or settings.log_level
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(fmt or settings.log_format, stream),
        ],
    )
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler(stream)
    handler.setFormatter(formatter)
    handler.set_name("genjobs")
    root = logging.getLogger()
    # Replace only our own handler: others (pytest's caplog, say) stay attached.
    for old in [h for h in root.handlers if h.get_name() == "genjobs"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("gunicorn.error", "gunicorn.access"):
        for gunicorn_handler in logging.getLogger(name).handlers:
            gunicorn_handler.setFormatter(formatter)
    return handler


def ensure_logging() -> None:
    """Configure logging unless this process already did (a second app keeps the first's)."""
    if not any(h.get_name() == "genjobs" for h in logging.getLogger().handlers):
        configure_logging()


def bind_job_context(**fields: object) -> None:
    """Add job fields (job_id, stage, attempt, ...) to every line this task or request logs."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v is not None})


def clear_job_context() -> None:
    """Forget the bound job fields (the task or request is over)."""
    structlog.contextvars.unbind_contextvars(*JOB_FIELDS)


def bind_request_context(view_args: Mapping[str, Any] | None) -> None:
    """Start a web request's context: the job id of its URL, if it names one."""
    structlog.contextvars.clear_contextvars()
    if view_args and isinstance(view_args.get("job_id"), str):
        bind_job_context(job_id=view_args["job_id"])


@signals.setup_logging.connect
def _celery_setup_logging(loglevel: object = None, **_: object) -> None:
    """Celery leaves logging to us when this signal has a receiver."""
    level = logging.getLevelName(loglevel) if isinstance(loglevel, int) else None
    configure_logging(level=level if level in ("DEBUG", "INFO", "WARNING", "ERROR") else None)


@signals.task_prerun.connect
def _bind_task(task_id: str = "", task: Any = None, args: Any = (), **_: object) -> None:
    name = getattr(task, "name", "") or ""
    if not name.startswith(STAGE_TASK_PREFIX) or len(args or ()) < 2:
        return
    try:
        attempt = int(args[1]) + 1
    except (TypeError, ValueError):
        attempt = None
    bind_job_context(
        job_id=str(args[0]),
        stage=name.removeprefix(STAGE_TASK_PREFIX),
        attempt=attempt,
        task_id=task_id,
    )


@signals.task_postrun.connect
def _unbind_task(**_: object) -> None:
    clear_job_context()
