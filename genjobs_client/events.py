"""Server-Sent Events: decode the job event stream line by line into typed events.

The service sends, per job (GET /api/v1/jobs/{id}/events):

    retry: 2000                    how long to wait before reconnecting

    id: 3                          the job's event number (resume with Last-Event-ID: 3)
    event: stage                   status | stage | progress
    data: {"status": "processing", "stage": "generate", "progress": 12, ...}

    event: queue                   no id: the pending job's place and ETA
    data: {"queue_position": 4, "eta_seconds": 30}

    : keep-alive                   a comment, so idle streams stay open
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from genjobs_client.models import FINAL_STATUSES, Progress


@dataclass(frozen=True)
class Event:
    """One event: `id` is the job's event number, None for `queue` updates."""

    type: str
    data: dict[str, Any]
    id: int | None = None

    @property
    def is_final(self) -> bool:
        """True for the status event that ends the job (and the stream)."""
        return self.type == "status" and self.data.get("status") in FINAL_STATUSES

    def progress(self, last: Progress | None = None) -> Progress | None:
        """The progress this event reports; queue events update `last` (None before any)."""
        if self.type == "queue":
            if last is None:
                return None
            return Progress(
                last.status,
                last.stage,
                last.progress,
                last.message,
                self.data.get("eta_seconds"),
                self.data.get("queue_position"),
                last.event_id,
            )
        if "status" not in self.data:
            return None
        return Progress(
            status=str(self.data["status"]),
            stage=self.data.get("stage"),
            progress=int(self.data.get("progress") or 0),
            message=self.data.get("message"),
            eta_seconds=self.data.get("eta_seconds"),
            queue_position=last.queue_position if last and last.status == "pending" else None,
            event_id=self.id,
        )


class SSEDecoder:
    """Feed it lines (without their line ends); it returns an Event when one is complete."""

    def __init__(self) -> None:
        self.retry_ms: int | None = None
        self._type = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, line: str) -> Event | None:
        """Take one line; an empty line ends the event being read and returns it."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._type = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> Event | None:
        if not self._data:
            self._type, self._id = "", None
            return None
        raw = "\n".join(self._data)
        try:
            data = json.loads(raw)
        except ValueError:
            data = {"raw": raw}
        if not isinstance(data, dict):
            data = {"value": data}
        event_id = int(self._id) if self._id and self._id.isdigit() else None
        event = Event(self._type or "message", data, event_id)
        self._type, self._data, self._id = "", [], None
        return event
