"""Where the CPU went during a phase: each service, Postgres, Redis, the bench client, others.

On a 2-core machine the load generator and the servers share the cores (and
other people's processes may too), so every phase reports the split; "cores" =
CPU seconds / wall seconds, and "others" is whatever busy time none of ours used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import psutil

ProcessSource = Callable[[], list[psutil.Process]]


def _cpu(proc: psutil.Process) -> float | None:
    try:
        times = proc.cpu_times()
        return float(times.user + times.system)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def tree(pid: int) -> list[psutil.Process]:
    """A process and its descendants (empty when it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@dataclass
class CpuMeter:
    """Context manager: CPU seconds used by each named group of processes over a block."""

    groups: dict[str, ProcessSource]
    cores: dict[str, float] = field(default_factory=dict)
    machine: dict[str, float] = field(default_factory=dict)
    _before: dict[str, dict[int, float]] = field(default_factory=dict)
    _machine_before: Any = None
    _wall: float = 0.0

    def _snapshot(self) -> dict[str, dict[int, float]]:
        shot: dict[str, dict[int, float]] = {}
        for name, source in self.groups.items():
            shot[name] = {}
            for proc in source():
                used = _cpu(proc)
                if used is not None:
                    shot[name][proc.pid] = used
        return shot

    def __enter__(self) -> CpuMeter:
        self._machine_before = psutil.cpu_times()
        self._before, self._wall = self._snapshot(), time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        wall = time.perf_counter() - self._wall
        after = self._snapshot()
        for name, used_now in after.items():
            before = self._before.get(name, {})
            used = sum(value - before.get(pid, 0.0) for pid, value in used_now.items())
            self.cores[name] = round(used / wall, 2) if wall else 0.0
        now, then = psutil.cpu_times(), self._machine_before
        spent = {name: getattr(now, name) - getattr(then, name) for name in now._fields}
        total = sum(spent.values()) or 1.0
        self.machine = {
            name: round(100 * spent[name] / total, 1)
            for name in ("user", "system", "softirq", "iowait", "steal", "idle")
            if name in spent
        }
        waiting = sum(spent.get(name, 0.0) for name in ("idle", "iowait", "steal"))
        busy_cores = (total - waiting) / wall if wall else 0.0
        self.cores["others"] = round(max(0.0, busy_cores - sum(self.cores.values())), 2)

    def as_json(self) -> dict[str, Any]:
        """Cores used per group, and the whole machine's time split in % (all cores = 100)."""
        return {"cores_used": self.cores, "machine_pct": self.machine}
