"""More workers, more throughput: two worker processes share one run, and stage pools split."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.timeout(150)


def _each_stage_ran_once(stack: Any, ids: list[str]) -> None:
    for job_id in ids:
        attempts = {name: row.attempts for name, row in stack.stages(job_id).items()}
        assert attempts == {"prepare": 1, "generate": 1, "finalize": 1}, (job_id, attempts)


def test_two_workers_share_one_run_of_100_jobs_none_lost_or_run_twice(stack: Any) -> None:
    stack.fake.set_delay("images/generations", 0.1)
    first, second = stack.worker("first"), stack.worker("second")
    ids = stack.submit(100)
    stack.wait_all_completed(ids, timeout_s=120)

    _each_stage_ran_once(stack, ids)
    assert len(stack.fake.calls("images/generations")) == 100
    assert len(stack.fake.calls("chat/completions")) == 100
    shares = [sum(stack.stage_runs(worker).values()) for worker in (first, second)]
    assert sum(shares) == 300 and min(shares) > 30, shares


def test_stage_pools_on_separate_workers(stack: Any) -> None:
    generate_pool = stack.worker("gen", queues="generate")
    cheap_pool = stack.worker("cheap", queues="prepare,finalize,maintenance")
    ids = stack.submit(30)
    stack.wait_all_completed(ids, timeout_s=90)

    _each_stage_ran_once(stack, ids)
    assert stack.stage_runs(generate_pool) == {"prepare": 0, "generate": 30, "finalize": 0}
    assert stack.stage_runs(cheap_pool) == {"prepare": 30, "generate": 0, "finalize": 30}
