"""Typed views of the service's JSON: jobs, their artifacts, progress updates, batches, pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINAL_STATUSES = frozenset({"completed", "failed", "canceled"})
"""A job in one of these will not change again (unless retried)."""


@dataclass(frozen=True)
class Artifact:
    """A result file of a job; `url` is relative to the service's base URL."""

    name: str
    url: str
    content_type: str
    size: int | None = None


@dataclass(frozen=True)
class Job:
    """A job as GET /api/v1/jobs/{id} shows it; `raw` keeps the whole JSON."""

    id: str
    kind: str
    status: str
    stage: str | None
    progress: int
    message: str | None
    queue_position: int | None
    eta_seconds: int | None
    error: dict[str, Any] | None
    result: dict[str, Any] | None
    stage_names: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Job:
        """Build from the job JSON."""
        return cls(
            id=str(body["id"]),
            kind=str(body.get("kind", "")),
            status=str(body["status"]),
            stage=body.get("stage"),
            progress=int(body.get("progress") or 0),
            message=body.get("message"),
            queue_position=body.get("queue_position"),
            eta_seconds=body.get("eta_seconds"),
            error=body.get("error"),
            result=body.get("result"),
            stage_names=tuple(s["name"] for s in body.get("stages") or ()),
            raw=body,
        )

    @property
    def finished(self) -> bool:
        """True once completed, failed or canceled."""
        return self.status in FINAL_STATUSES

    @property
    def artifacts(self) -> list[Artifact]:
        """The result files (empty until the job completes)."""
        return [
            Artifact(a["name"], a["url"], a.get("content_type", ""), a.get("size"))
            for a in (self.result or {}).get("artifacts", [])
        ]

    @property
    def text(self) -> str | None:
        """The result's text, for kinds that produce one (try-on advice)."""
        value = (self.result or {}).get("text")
        return str(value) if value is not None else None


@dataclass(frozen=True)
class Progress:
    """One progress update, from the event stream or from a poll."""

    status: str
    stage: str | None
    progress: int
    message: str | None = None
    eta_seconds: int | None = None
    queue_position: int | None = None
    event_id: int | None = None

    @classmethod
    def of_job(cls, job: Job) -> Progress:
        """The progress a job shows."""
        return cls(
            job.status,
            job.stage,
            job.progress,
            job.message,
            job.eta_seconds,
            job.queue_position,
        )


@dataclass(frozen=True)
class Page:
    """One page of GET /api/v1/jobs; pass `next_cursor` back for the next one."""

    jobs: list[Job]
    next_cursor: str | None


@dataclass(frozen=True)
class Batch:
    """A batch as GET /api/v1/batches/{id} shows it."""

    id: str
    status: str
    progress: int
    total: int
    counts: dict[str, int]
    job_ids: list[str]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Batch:
        """Build from the batch JSON."""
        return cls(
            id=str(body["id"]),
            status=str(body["status"]),
            progress=int(body.get("progress") or 0),
            total=int(body.get("total") or 0),
            counts=dict(body.get("counts") or {}),
            job_ids=[str(j["id"]) for j in body.get("jobs") or ()],
            raw=body,
        )

    @property
    def finished(self) -> bool:
        """True once every job of the batch has finished."""
        return self.status in FINAL_STATUSES
