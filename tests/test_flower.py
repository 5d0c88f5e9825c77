"""Flower, as `make run` starts it: basic auth always on, and it sees the workers and queues."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.processes import (
    FLOWER_CREDENTIALS,
    CeleryProcess,
    PrivateRedis,
    flower_env,
    free_port,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)

CREDENTIALS = FLOWER_CREDENTIALS


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[str]:
    broker = PrivateRedis(tmp_path)
    port = free_port()
    env = flower_env(tmp_path, broker.url, port)
    worker = CeleryProcess(
        ["worker", "--pool", "threads", "-c", "2", "-n", "seen@%h", "--without-mingle"],
        env,
        tmp_path / "worker.log",
    )
    flower = CeleryProcess(
        ["flower", "--conf=config/flowerconfig.py"], env, tmp_path / "flower.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(url), 30, "Flower to listen")
        yield url
    finally:
        flower.kill()
        worker.kill()
        broker.stop()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code > 0
    except requests.ConnectionError:
        return False


def test_flower_needs_the_password_and_lists_the_worker_and_queues(flower: str) -> None:
    assert requests.get(f"{flower}/", timeout=5).status_code == 401
    assert (
        requests.get(f"{flower}/api/workers", auth=("ops", "wrong"), timeout=5).status_code == 401
    )

    def worker_listed() -> bool:
        workers = requests.get(f"{flower}/api/workers?refresh=1", auth=CREDENTIALS, timeout=10)
        return workers.status_code == 200 and any(
            name.startswith("seen@") for name in workers.json()
        )

    wait_until(worker_listed, 40, "Flower to list the worker")
    queues = requests.get(f"{flower}/api/queues/length", auth=CREDENTIALS, timeout=10).json()
    names = {queue["name"] for queue in queues["active_queues"]}
    assert {"prepare", "generate", "finalize", "maintenance"} <= names
