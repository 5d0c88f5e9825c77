"""Chaos with real processes: SIGKILLed workers, and Redis and Postgres restarted mid-run.

Each test runs worker and beat processes (`celery -A make_celery ...`) against a
private Postgres and Redis, with the `openai` provider pointed at the fake
server. Heartbeat, reaper and reconciler intervals are shortened so recovery
takes seconds, not minutes.
"""

from __future__ import annotations

import pytest

from tests.processes import Stack, wait_until

pytestmark = pytest.mark.timeout(150)


def test_a_sigkilled_worker_s_stage_completes_on_another_worker(stack: Stack) -> None:
    stack.fake.set_delay("images/generations", 3.0)
    doomed = stack.worker("doomed")
    stack.beat()
    (job_id,) = stack.submit(1)
    wait_until(lambda: stack.stages(job_id)["generate"].status == "running", 30, "generate")
    doomed.kill()
    stack.fake.set_delay("images/generations", 0.0)
    stack.worker("survivor")

    stack.wait_all_completed([job_id], timeout_s=60)
    stages = stack.stages(job_id)
    assert stages["generate"].attempts == 2
    assert stages["generate"].error is None
    assert (stages["prepare"].attempts, stages["finalize"].attempts) == (1, 1)
    files = sorted(p.name for p in (stack.base / "artifacts" / job_id).iterdir())
    assert files == ["generated.png", "image.png", "thumbnail.png"]


def test_fifty_jobs_survive_a_redis_restart(stack: Stack) -> None:
    stack.fake.set_delay("images/generations", 0.3)
    stack.worker("one")
    stack.worker("two")
    stack.beat()
    ids = stack.submit(50)
    wait_until(lambda: "completed" in stack.statuses(ids).values(), 60, "a first job to finish")
    stack.broker.restart()  # type: ignore[attr-defined]
    # Queued stage messages were lost with Redis while most jobs still had work to do.
    assert list(stack.statuses(ids).values()).count("completed") < 40

    stack.wait_all_completed(ids, timeout_s=90)
    for job_id in ids[:10]:
        assert all(stage.status == "completed" for stage in stack.stages(job_id).values())


def test_jobs_survive_a_postgres_restart(stack: Stack) -> None:
    stack.fake.set_delay("images/generations", 0.3)
    stack.worker("one")
    stack.beat()
    ids = stack.submit(20)
    wait_until(lambda: "completed" in stack.statuses(ids).values(), 60, "a first job to finish")
    stack.postgres.restart()  # type: ignore[attr-defined]

    stack.wait_all_completed(ids, timeout_s=90)
    assert len(stack.fake.calls("images/generations")) >= 20
