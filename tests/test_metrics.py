"""/metrics tells the same story as Postgres: counters move as jobs run, live gauges are read."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(90)]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Any) -> Samples:
    """Every sample of /metrics, keyed by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    """How much a sample moved."""
    return value(after, name, **labels) - value(before, name, **labels)


def _stage_runs(before: Samples, after: Samples) -> float:
    return sum(
        delta(before, after, "genjobs_stage_duration_seconds_count", kind="image", stage=stage)
        for stage in ("prepare", "generate", "finalize")
    )


def _submit(client: Any, auth: dict[str, str], prompt: str) -> str:
    body = {"kind": "image", "input": {"prompt": prompt, "size": "256x256"}}
    response = client.post("/api/v1/jobs", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


def test_counters_move_as_jobs_run_and_match_postgres(
    app: Any,
    client: Any,
    make_user: Callable[..., tuple[int, str]],
    wait_for_job: Callable[..., dict[str, Any]],
    fake_provider: Any,
) -> None:
    from tasks.db import db

    _, key = make_user("metrics-user")
    auth = {"Authorization": f"Bearer {key}"}
    before = scrape(client)

    fake_provider.rate_limit_next("images/generations", retry_after_s=0.2, times=1)
    done = [wait_for_job(_submit(client, auth, f"lighthouse {i}"), auth) for i in range(2)]
    fake_provider.reject_content_next("images/generations")
    failed = wait_for_job(_submit(client, auth, "refused"), auth)
    assert [job["status"] for job in done] == ["completed", "completed"]
    assert failed["status"] == "failed"

    # A stage is timed when its task returns, a moment after its last commit: give it that.
    stages_run = 3 + 3 + 2 + 1  # 3 per completed job, 2 for the refused one, and a retry
    deadline = time.monotonic() + 5
    while _stage_runs(before, after := scrape(client)) < stages_run:
        assert time.monotonic() < deadline, "stage durations were not all recorded"
        time.sleep(0.05)
    assert _stage_runs(before, after) == stages_run
    assert delta(before, after, "genjobs_jobs_submitted_total", kind="image") == 3
    finished = "genjobs_jobs_finished_total"
    assert delta(before, after, finished, kind="image", status="completed") == 2
    assert delta(before, after, finished, kind="image", status="failed") == 1
    errors = "genjobs_stage_errors_total"
    assert delta(before, after, errors, stage="generate", error_class="RateLimited") == 1
    assert delta(before, after, errors, stage="generate", error_class="ContentRejected") == 1
    waits = sum(
        delta(before, after, "genjobs_queue_wait_seconds_count", queue=queue)
        for queue in ("prepare", "generate", "finalize")
    )
    assert waits >= stages_run
    # These jobs have no webhook (tests/tasks/test_webhooks.py counts deliveries).
    assert delta(before, after, "genjobs_webhook_deliveries_total", outcome="delivered") == 0

    with app.app_context():  # the same story in Postgres
        counts = dict(
            db.session.execute(db.text("SELECT status, count(*) FROM jobs GROUP BY status")).all()
        )
        db.session.execute(db.text("UPDATE users SET is_admin = true"))
        db.session.commit()
    assert counts == {"completed": 2, "failed": 1}

    from webapp.api import stats  # ... and in the operators' figures

    stats._cache = None
    hour = client.get("/api/v1/stats", headers=auth).get_json()["windows"]["1h"]
    assert (hour["completed"], hour["failed"]) == (2, 1)
    (generate,) = [s for s in hour["stages"] if s["stage"] == "generate"]
    assert generate["count"] == 2


def test_cancel_counts_and_live_gauges_are_exposed(
    client: Any, make_user: Callable[..., tuple[int, str]], insert_job: Callable[..., str]
) -> None:
    user_id, key = make_user("canceller")
    auth = {"Authorization": f"Bearer {key}"}
    job_id = insert_job(user_id=user_id)  # pending, never enqueued
    before = scrape(client)
    assert client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth).status_code == 200
    after = scrape(client)
    finished = "genjobs_jobs_finished_total"
    assert delta(before, after, finished, kind="image", status="canceled") == 1

    for queue in ("prepare", "generate", "finalize", "maintenance"):
        for lane in ("high", "default", "low"):
            assert ("genjobs_queue_depth", (("lane", lane), ("queue", queue))) in after
        assert ("genjobs_queue_oldest_message_age_seconds", (("queue", queue),)) in after
    in_flight = ("genjobs_jobs_in_flight", (("lane", "default"), ("tier", "standard")))
    assert in_flight in after
    assert ("genjobs_sse_open_streams", ()) in after
    assert ("genjobs_broker_unacked_messages", ()) in after


def test_a_failing_metrics_hook_never_breaks_a_job(
    client: Any,
    make_user: Callable[..., tuple[int, str]],
    wait_for_job: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from tasks import metrics

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("metrics backend exploded")

    monkeypatch.setattr(metrics, "count_events", broken)
    caplog.set_level(logging.WARNING, logger="tasks.metrics")
    _, key = make_user("unlucky")
    auth = {"Authorization": f"Bearer {key}"}
    job = wait_for_job(_submit(client, auth, "still works"), auth)
    assert job["status"] == "completed"
    assert any("job metrics not counted" in r.getMessage() for r in caplog.records)


def test_queue_depths_read_every_lane_and_the_oldest_message(app: Any) -> None:
    import json
    import time

    from tasks.queue_depths import list_key, queue_depths
    from tasks.redis_clients import scan_client

    client = scan_client()
    sent = time.time() - 30
    message = json.dumps({"headers": {"genjobs_sent_at": sent}, "body": ""})
    with app.app_context():
        keys = [list_key("metrics-test", step) for step in (0, 3, 6)]
        try:
            client.lpush(keys[1], message, message)
            client.lpush(keys[2], json.dumps({"headers": {}}))
            (depth,) = queue_depths(("metrics-test",))
        finally:
            client.delete(*keys)
    assert depth.lanes == {"high": 0, "default": 2, "low": 1}
    assert depth.total == 3
    assert depth.oldest_age_s is not None and 29 < depth.oldest_age_s < 60


@pytest.mark.timeout(60)
def test_gunicorn_processes_add_up_their_counters(
    tmp_path: Any, make_user: Callable[..., tuple[int, str]]
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    import requests

    from config.settings import PROJECT_ROOT
    from tests.processes import free_port, wait_until

    _, key = make_user("via-gunicorn")
    port = free_port()
    env = {**os.environ, "PORT": str(port), "METRICS_DIR": str(tmp_path)}
    gunicorn = Path(sys.executable).parent / "gunicorn"
    with open(tmp_path / "gunicorn.log", "wb") as log:
        web = subprocess.Popen(
            [str(gunicorn), "-c", "config/gunicorn.py", "webapp:create_app()"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> bool:
            try:
                return requests.get(f"{url}/healthz", timeout=3).status_code == 200
            except requests.RequestException:
                return False

        wait_until(answers, 30, "gunicorn to answer")
        body = {"kind": "image", "input": {"prompt": "via gunicorn", "size": "256x256"}}
        headers = {"Authorization": f"Bearer {key}", "Connection": "close"}
        posted = 0
        # A fresh connection each time, until both processes have counted a submit.
        while posted == 0 or len(list((tmp_path / "web").glob("counter_*.db"))) < 2:
            assert posted < 40, "every request went to one gunicorn process"
            created = requests.post(f"{url}/api/v1/jobs", json=body, headers=headers, timeout=10)
            assert created.status_code == 202, created.text
            posted += 1
        seen = set()
        for _ in range(6):  # whichever process answers, it counts for all of them
            text = requests.get(f"{url}/metrics", headers={"Connection": "close"}, timeout=5).text
            families = {f.name: f for f in text_string_to_metric_families(text)}
            (submitted,) = [
                s
                for s in families["genjobs_jobs_submitted"].samples
                if s.name.endswith("_total") and s.labels == {"kind": "image"}
            ]
            seen.add(submitted.value)
        assert seen == {float(posted)}
    finally:
        web.terminate()
        web.wait(timeout=20)
