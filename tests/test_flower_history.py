"""Flower keeps its task history across a restart, and shows each stage task's job."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from celery import Celery

from tests.processes import (
    FLOWER_CREDENTIALS,
    CeleryProcess,
    PrivateRedis,
    flower_env,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.timeout(180)

CREDENTIALS = FLOWER_CREDENTIALS


def _tasks(url: str) -> dict[str, Any] | None:
    """Flower's tasks by id; None while it does not answer."""
    try:
        response = requests.get(f"{url}/api/tasks", auth=CREDENTIALS, timeout=5)
    except requests.ConnectionError:
        return None
    return dict(response.json()) if response.status_code == 200 else None


def test_a_restarted_flower_still_shows_earlier_tasks_with_their_job(
    tmp_path: Path, app: Any, insert_job: Callable[..., str]
) -> None:
    broker = PrivateRedis(tmp_path)
    port = free_port()
    env = flower_env(
        tmp_path,
        broker.url,
        port,
        FLOWER_STATE_SAVE_INTERVAL_S="0.5",
        WORKER_METRICS_PORT="0",
    )
    worker_args = ["worker", "--pool", "threads", "-c", "2", "-n", "history@%h", "-Q", "prepare"]
    worker = CeleryProcess([*worker_args, "--without-mingle"], env, tmp_path / "worker.log")
    flower_args = ["flower", "--conf=config/flowerconfig.py"]
    flower = CeleryProcess(flower_args, env, tmp_path / "flower.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _tasks(url) is not None, 30, "Flower to answer")
        wait_until(lambda: _worker_seen(url), 40, "Flower to see the worker")
        job_id = insert_job(status="canceled")  # the stage only notes that: nothing else runs
        with app.app_context():
            Celery(broker=broker.url).send_task("stage.prepare", args=(job_id, 0), queue="prepare")
        wait_until(lambda: _done(url, job_id), 30, "Flower to record the task")
        seen_at = time.time()
        tasks = _tasks(url) or {}
        (task_id,) = [tid for tid, task in tasks.items() if job_id in str(task["kwargs"])]
        label = tasks[task_id]["kwargs"]
        assert "'kind': 'image'" in label and "'stage': 'prepare'" in label
        assert "'attempt': 1" in label

        worker.kill()  # no new events: only saved history can show the task again
        # A save already under way when the task finished may predate its SUCCESS event:
        # wait for one that began after it (saves run every 0.5 s).
        wait_until(lambda: _saved_at(tmp_path) > seen_at + 1.0, 10, "Flower to save its state")
        flower.kill()  # SIGKILL: what the periodic save wrote is all there is
        flower = CeleryProcess(flower_args, env, tmp_path / "flower2.log")
        wait_until(lambda: task_id in (_tasks(url) or {}), 60, "the restarted Flower's history")
        assert (_tasks(url) or {})[task_id]["state"] == "SUCCESS"
    finally:
        flower.kill()
        if worker.process.poll() is None:
            worker.kill()
        broker.stop()


def _done(url: str, job_id: str) -> bool:
    return any(
        job_id in str(task.get("kwargs")) and task.get("state") == "SUCCESS"
        for task in (_tasks(url) or {}).values()
    )


def _saved_at(folder: Path) -> float:
    """When Flower last wrote its state file (0: never)."""
    return max((path.stat().st_mtime for path in folder.glob("flower.db*")), default=0.0)


def _worker_seen(url: str) -> bool:
    try:
        workers = requests.get(f"{url}/api/workers?refresh=1", auth=CREDENTIALS, timeout=10)
    except requests.ConnectionError:
        return False
    return workers.status_code == 200 and any(
        name.startswith("history@") for name in workers.json()
    )
