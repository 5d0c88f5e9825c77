"""Runs the chosen scenarios on one private stack, each under a hard time cap, and reports."""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType, ModuleType

from bench import report
from bench.context import Bench, Outcome, ScenarioTimeout, hard_cap
from bench.stack import Stack

SCENARIOS: dict[str, str] = {
    "submit": "bench.scenarios.submit",
    "throughput": "bench.scenarios.throughput",
    "overhead": "bench.scenarios.overhead",
    "reads": "bench.scenarios.reads",
    "io": "bench.scenarios.io_stages",
    "memory": "bench.scenarios.memory",
    "streams": "bench.scenarios.streams",
}
"""Scenario name -> module with `TIME_CAP_S` and `run(bench) -> Outcome`, in run order."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _run_one(bench: Bench, name: str) -> Outcome:
    module: ModuleType = importlib.import_module(SCENARIOS[name])
    started = time.monotonic()
    cap_s = module.time_cap_s(bench) if hasattr(module, "time_cap_s") else module.TIME_CAP_S
    print(f"[bench] {name}: up to {cap_s:.0f} s", flush=True)
    try:
        bench.stack.reset()
        with hard_cap(cap_s, name):
            outcome: Outcome = module.run(bench)
    except ScenarioTimeout as exc:
        outcome = Outcome(name, status=f"error: {exc}")
    except Exception as exc:  # a broken scenario must not stop the others
        outcome = Outcome(name, status=f"error: {type(exc).__name__}: {str(exc)[:300]}")
        outcome.details["traceback"] = traceback.format_exc()[-4000:]
    finally:
        bench.stop_scenario_services()
    outcome.elapsed_s = time.monotonic() - started
    verdicts = ", ".join(f"{c.metric}={'pass' if c.passed else 'MISS'}" for c in outcome.checks)
    print(f"[bench] {name}: {outcome.status} in {outcome.elapsed_s:.0f} s; {verdicts}", flush=True)
    return outcome


def run(names: list[str], *, profile: bool, keep: bool, memory_cap_s: float | None) -> int:
    """Start the stack, run `names` in order, stop everything, write latest.json and .md."""
    signal.signal(signal.SIGTERM, _interrupt)
    base = Path(tempfile.mkdtemp(prefix="genjobs-bench-"))
    stack = Stack(base)
    bench = Bench(stack, profile=profile, memory_cap_s=memory_cap_s)
    outcomes: dict[str, Outcome] = {}
    started = time.monotonic()
    try:
        stack.start()
        # This process sends raw Celery messages too: point its `config` at the stack.
        os.environ.update(stack.env())
        bench.servers = bench.server_versions()
        for name in names:
            outcomes[name] = _run_one(bench, name)
    finally:
        stack.close()
        if keep:
            print(f"[bench] logs kept in {base}/logs", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)
    wall_s = time.monotonic() - started
    paths = report.write(bench, outcomes, wall_s=wall_s)
    print(f"[bench] done in {wall_s:.0f} s; wrote {', '.join(map(str, paths))}", flush=True)
    return (
        0
        if outcomes
        and all(
            o.status == "measured" or o.status.startswith("not measured") for o in outcomes.values()
        )
        else 1
    )
