"""The `noop` pipeline: three stages that do nothing, to measure our own overhead.

Enabled only by BENCH_NOOP_KIND=1 (the benchmarks); never offered to users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tasks.pipelines import Stage

if TYPE_CHECKING:
    from tasks.context import StageContext


def do_nothing(ctx: StageContext) -> dict[str, Any]:
    """Return at once: every cost measured is the runner's."""
    return {}


NOOP_STAGES = (
    Stage(name="noop1", run=do_nothing),
    Stage(name="noop2", run=do_nothing),
    Stage(name="noop3", run=do_nothing),
)
