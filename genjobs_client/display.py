"""Showing a job's progress: live bars per stage on a terminal, one line per change otherwise."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from genjobs_client.models import Job
from genjobs_client.models import Progress as JobProgress


class ProgressDisplay:
    """A context manager fed with progress updates; shows a bar per stage plus the whole job."""

    def __init__(self, job: Job, console: Console) -> None:
        self.job, self.console = job, console
        self.live = console.is_terminal
        self.last: JobProgress | None = None
        self._bars = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=console,
            transient=False,
        )
        self._overall: TaskID | None = None
        self._stages: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressDisplay:
        if self.live:
            self._overall = self._bars.add_task(f"job {self.job.id[:8]}", total=100, note="")
            for name in self.job.stage_names:
                # Shown once the stage starts; the client does not know a stage's share of
                # the job, so a running stage's bar pulses (total None) until it is done.
                self._stages[name] = self._bars.add_task(
                    f"  {name}", total=None, visible=False, note=""
                )
            self._bars.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.live:
            self._bars.stop()

    def update(self, progress: JobProgress) -> None:
        """Show one progress update."""
        previous, self.last = self.last, progress
        if not self.live:
            self._print_line(progress)
            return
        note = _note(progress)
        if self._overall is not None:
            self._bars.update(self._overall, completed=progress.progress, note=note)
        current = progress.stage
        names = list(self._stages)
        reached = names.index(current) if current in names else -1
        for index, name in enumerate(names):
            task = self._stages[name]
            if progress.status == "completed" or index < reached:
                self._bars.update(task, total=100, completed=100, visible=True, note="done")
            elif index == reached and progress.status == "processing":
                self._bars.update(task, visible=True, note=progress.message or "")
            elif index == reached and progress.status in ("failed", "canceled"):
                self._bars.update(task, total=100, visible=True, note=progress.status)
        if previous is None or previous.status != progress.status:
            self._bars.refresh()

    def _print_line(self, progress: JobProgress) -> None:
        stage = progress.stage or "-"
        self.console.print(
            f"{self.job.id[:8]}  {progress.status:<10} {stage:<10} {progress.progress:>3}%  "
            f"{_note(progress)}",
            highlight=False,
            markup=False,
        )


def _note(progress: JobProgress) -> str:
    parts = []
    if progress.status == "pending" and progress.queue_position:
        parts.append(f"queue #{progress.queue_position}")
    if progress.message:
        parts.append(progress.message)
    if progress.eta_seconds and progress.status in ("pending", "processing"):
        parts.append(f"~{progress.eta_seconds} s left")
    return " · ".join(parts)
