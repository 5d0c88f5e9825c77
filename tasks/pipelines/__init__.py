"""The pipelines: each job kind is an ordered list of named stages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tasks.context import StageContext
    from tasks.providers import ProviderJob, ProviderJobStatus


@dataclass(frozen=True, kw_only=True)
class AwaitProvider:
    """A stage's answer when its work now runs on the provider's side.

    The runner parks the stage (no worker waits), polls the provider with
    countdowns or wakes on its callback, then calls the stage's `finish`.
    """

    job: ProviderJob


StageOutcome = dict[str, Any] | AwaitProvider
"""What a stage's `run` returns: its output, or a provider job to wait for."""


@dataclass(frozen=True, kw_only=True)
class Stage:
    """One step of a pipeline; `weight` is its share of the job's progress bar.

    `finish` turns a provider job's result into the stage's output; stages that may
    return `AwaitProvider` must have one.
    """

    name: str
    run: Callable[[StageContext], StageOutcome]
    finish: Callable[[StageContext, ProviderJobStatus], dict[str, Any]] | None = None
    weight: int = 1


def _pipelines() -> dict[str, tuple[Stage, ...]]:
    from config import get_settings
    from tasks.pipelines.image import IMAGE_STAGES
    from tasks.pipelines.script import SCRIPT_STAGES
    from tasks.pipelines.tryon import TRYON_STAGES

    pipelines: dict[str, tuple[Stage, ...]] = {
        "image": IMAGE_STAGES,
        "script": SCRIPT_STAGES,
        "tryon": TRYON_STAGES,
    }
    if get_settings().bench_noop_kind:
        from tasks.pipelines.noop import NOOP_STAGES

        pipelines["noop"] = NOOP_STAGES
    return pipelines


PIPELINES: dict[str, tuple[Stage, ...]] = _pipelines()
"""kind -> its stages in order."""


def _estimators() -> dict[str, Callable[[dict[str, Any]], float]]:
    from tasks.pipelines.script import estimated_run_s

    return {"script": estimated_run_s}


ESTIMATORS: dict[str, Callable[[dict[str, Any]], float]] = _estimators()
"""kind -> its estimate of a job's run time from the input, for kinds whose time depends on it
(a novel's length); other kinds' ETAs come from measured stage durations alone."""

KINDS = tuple(PIPELINES)
"""The job kinds the service accepts."""

STAGE_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(stage.name for stages in PIPELINES.values() for stage in stages)
)
"""Every distinct stage name; each is one Celery task with its own queues."""


def stages_of(kind: str) -> tuple[Stage, ...]:
    """The stages of a job kind, in order."""
    return PIPELINES[kind]


def progress_at(kind: str, stage_name: str, fraction: float) -> int:
    """Overall job progress (0-100) when `stage_name` is `fraction` done."""
    stages = PIPELINES[kind]
    total = sum(stage.weight for stage in stages)
    done = 0
    for stage in stages:
        if stage.name == stage_name:
            return min(100, int(100 * (done + stage.weight * fraction) / total))
        done += stage.weight
    raise KeyError(stage_name)


def stage_of(kind: str, stage_name: str) -> Stage:
    """One named stage of a job kind."""
    return next(stage for stage in PIPELINES[kind] if stage.name == stage_name)
