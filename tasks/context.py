"""What a running stage sees: its job's input, earlier outputs, the provider, and a progress pen."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.artifacts import write_atomic
from tasks.claims import heartbeat, holds_fence
from tasks.db import db
from tasks.pipelines import progress_at
from tasks.providers import Provider
from tasks.states import record_progress


class StageCanceled(Exception):
    """The job left `processing` (canceled, or taken over) while this stage ran."""


@dataclass(kw_only=True)
class StageContext:
    """Handed to a stage function; all writes go through the attempt fence."""

    job_id: str
    kind: str
    stage: str
    fence: int
    input: dict[str, Any]
    outputs: dict[str, dict[str, Any]]
    provider: Provider
    workdir: Path
    artifacts: list[dict[str, Any]] = field(default_factory=list)

    def report(self, fraction: float, message: str) -> None:
        """Record progress within this stage (0.0-1.0) and a message; stop if canceled."""
        moved = record_progress(
            self.job_id,
            where=holds_fence(self.job_id, self.stage, self.fence),
            progress=progress_at(self.kind, self.stage, fraction),
            message=message,
        )
        if moved:
            heartbeat(self.job_id, self.stage, self.fence)
        db.session.commit()
        if not moved:
            raise StageCanceled(self.job_id)

    def save_artifact(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Store a result file in the job's folder and describe it for the result."""
        write_atomic(self.workdir / name, data)
        return {"name": name, "content_type": content_type, "size": len(data)}
