"""Optional py-spy profiles of a service during a scenario's main phase (`--profile`).

py-spy samples the process tree from outside (no code change, `--nonblocking` so
the target is not paused); the raw collapsed stacks are kept under
`bench/results/profiles/` and summarised as the frames most often on CPU.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.stack import Service

PROFILE_DIR = Path(__file__).parent / "results" / "profiles"
"""Where raw py-spy output goes."""

MAX_PROFILE_S = 120
"""py-spy stops by itself after this long, whatever happens to the bench."""


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def profiled(enabled: bool, service: Service, label: str, into: dict[str, Any]) -> Iterator[None]:
    """Record `service` while the block runs; put a summary in `into[label]`."""
    tool = _py_spy()
    if not enabled or tool is None:
        yield
        return
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    output = PROFILE_DIR / f"{label}.txt"
    argv = [tool, "record", "--pid", str(service.process.pid), "--subprocesses"]
    argv += ["--format", "raw", "--nolineno", "--nonblocking", "--gil", "--rate", "200"]
    argv += ["--duration", str(MAX_PROFILE_S), "--output", str(output)]
    spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait()
        into[label] = summarise(output) if output.exists() else {"error": "py-spy wrote nothing"}


def _frame(raw: str) -> str:
    # "create_job (webapp/api/jobs.py)" -> kept whole; process headers are dropped.
    return raw.strip()


def summarise(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares of the most sampled frames in a collapsed-stack file."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if "(" in f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        areas[_area(frames[-1])] += count

    def share(counter: Counter[str]) -> list[list[Any]]:
        return [[name, round(100 * n / total, 1)] for name, n in counter.most_common(top)]

    return {
        "file": str(path.relative_to(PROFILE_DIR.parent.parent.parent)),
        "samples": total,
        "self_pct": share(own),
        "inclusive_pct": share(inclusive),
        "self_by_area_pct": share(areas),
    }


def _area(frame: str) -> str:
    """The package a frame's file belongs to, e.g. `sqlalchemy` or `tasks`."""
    inner = frame[frame.rfind("(") + 1 : frame.rfind(")")]
    return inner.split("/", 1)[0].split(".", 1)[0] or inner
