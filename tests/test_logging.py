"""Logs: one JSON object per line, stdlib and structlog alike, naming job, stage and attempt."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from config.logging import bind_job_context, clear_job_context, configure_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Each test leaves logging as it found it: our handler on stderr, the same level."""
    level = logging.getLogger().level
    yield
    clear_job_context()
    configure_logging()
    logging.getLogger().setLevel(level)


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Send the process's logs to a buffer for one test; returns a reader of its JSON lines."""
    buffer = io.StringIO()
    configure_logging(level="INFO", fmt="json", stream=buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_stdlib_and_structlog_lines_are_json_with_the_bound_job(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    bind_job_context(job_id="3f2a", stage="generate", attempt=2)
    logging.getLogger("celery.worker").info("Task %s received", "stage.generate")
    structlog.get_logger("tasks.test").warning("provider slow", seconds=12)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("tasks.test").exception("stage crashed")
    clear_job_context()
    logging.getLogger("celery.beat").info("no job here")

    stdlib, structured, crashed, plain = log_lines()
    assert stdlib["event"] == "Task stage.generate received"
    assert stdlib["logger"] == "celery.worker" and stdlib["level"] == "info"
    for line in (stdlib, structured, crashed):
        assert (line["job_id"], line["stage"], line["attempt"]) == ("3f2a", "generate", 2)
        assert line["timestamp"].endswith("Z")
    assert structured["seconds"] == 12 and structured["level"] == "warning"
    assert "ValueError: boom" in crashed["exception"]
    assert "job_id" not in plain


def test_console_format_is_for_people() -> None:
    buffer = io.StringIO()
    configure_logging(level="INFO", fmt="console", stream=buffer)
    bind_job_context(job_id="3f2a")
    logging.getLogger("tasks.test").info("hello")
    line = buffer.getvalue()
    assert "hello" in line and "job_id=3f2a" in line and not line.startswith("{")


def test_caplog_still_sees_records(caplog: pytest.LogCaptureFixture) -> None:
    configure_logging()
    with caplog.at_level(logging.INFO, logger="tasks.test"):
        logging.getLogger("tasks.test").info("seen by caplog")
        structlog.get_logger("tasks.test").info("also seen", n=1)
    assert "seen by caplog" in caplog.messages
    assert any("also seen" in message for message in caplog.messages)


def test_a_web_request_binds_the_job_id_of_its_url(
    app: Any, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    with app.test_request_context("/api/v1/jobs/0123abcd/events"):
        app.preprocess_request()
        logging.getLogger("webapp.test").info("streaming")
    with app.test_request_context("/healthz"):
        app.preprocess_request()
        logging.getLogger("webapp.test").info("healthy")
    streaming, healthy = log_lines()
    assert streaming["job_id"] == "0123abcd"
    assert "job_id" not in healthy


@pytest.mark.usefixtures("celery_session_worker")
@pytest.mark.timeout(30)
def test_a_stage_task_logs_with_its_job_stage_and_attempt(
    app: Any,
    insert_job: Callable[..., str],
    log_lines: Callable[[], list[dict[str, Any]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="tasks.runner")
    job_id = insert_job(status="canceled")
    with app.app_context():
        app.extensions["celery"].send_task("stage.prepare", args=(job_id, 0), queue="prepare")
    deadline = time.monotonic() + 10
    while not (found := [line for line in log_lines() if job_id in line["event"]]):
        assert time.monotonic() < deadline, "the stage task logged nothing"
        time.sleep(0.05)
    (line,) = found
    assert line["event"].startswith("skip prepare")
    assert (line["job_id"], line["stage"], line["attempt"]) == (job_id, "prepare", 1)
    assert line["logger"] == "tasks.runner" and line["task_id"]


def test_celery_hands_logging_to_us() -> None:
    from celery import signals

    signals.setup_logging.send(sender=None, loglevel=logging.WARNING, logfile=None)
    root = logging.getLogger()
    assert root.level == logging.WARNING
    assert [h for h in root.handlers if h.get_name() == "genjobs"]
