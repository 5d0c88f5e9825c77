"""What a running stage sees: its job's input, earlier outputs, the provider, and a progress pen."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from celery import signals

from config import get_settings
from tasks.artifacts import write_atomic
from tasks.cancellation import cancel_requested
from tasks.claims import heartbeat
from tasks.db import db
from tasks.errors import ProviderTimeout
from tasks.pipelines import progress_at
from tasks.providers import Provider
from tasks.states import record_progress

T = TypeVar("T")

MIN_CALL_THREADS = 64
"""Provider-call threads at least (abandoned calls finish in the background and hold one)."""

_calls: ThreadPoolExecutor | None = None
_call_threads = MIN_CALL_THREADS
_calls_lock = threading.Lock()


@signals.worker_init.connect
def _size_calls_for_worker(sender: Any = None, **_: object) -> None:
    """One provider call per stage slot: a worker with 200 threads may wait on 200 calls."""
    global _call_threads
    try:
        _call_threads = max(MIN_CALL_THREADS, int(sender.concurrency or 0))
    except (AttributeError, TypeError, ValueError):
        pass  # unknown concurrency: keep the floor


def _call_executor() -> ThreadPoolExecutor:
    """Runs provider calls so the stage can keep watching for cancel, heartbeat and deadline."""
    global _calls
    with _calls_lock:
        if _calls is None:
            _calls = ThreadPoolExecutor(_call_threads, thread_name_prefix="provider-call")
        return _calls


class StageCanceled(Exception):
    """The job left `processing` (canceled, or taken over) while this stage ran."""


@dataclass(kw_only=True)
class StageContext:
    """Handed to a stage function; all writes go through the attempt fence."""

    job_id: str
    kind: str
    stage: str
    fence: int
    attempt: int
    input: dict[str, Any]
    outputs: dict[str, dict[str, Any]]
    provider: Provider
    workdir: Path
    callback_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    """Made before any provider call, so a provider that takes a callback URL per request can
    be given `callback_path`; stored with the stage if it parks."""
    deadline: float = field(
        default_factory=lambda: time.monotonic() + get_settings().stage_soft_time_limit_s
    )

    @property
    def callback_path(self) -> str:
        """Where this attempt's provider may call back (POST, Standard Webhooks-signed)."""
        return f"/api/v1/callbacks/{self.provider.name}/{self.callback_token}"

    def report(self, fraction: float, message: str) -> None:
        """Record progress within this stage (0.0-1.0) and a message; stop if canceled."""
        # Stage row first, then the job row: the lock order every writer follows. A
        # heartbeat that matched holds the stage row, so the fence needs no second check.
        moved = heartbeat(self.job_id, self.stage, self.fence) and record_progress(
            self.job_id,
            progress=progress_at(self.kind, self.stage, fraction),
            message=message,
        )
        db.session.commit()
        if not moved:
            raise StageCanceled(self.job_id)

    def call(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        while_waiting: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> T:
        """Run a (slow) provider call; stop waiting at once on cancel or past the deadline.

        The call runs on a helper thread. Meanwhile this thread heartbeats the stage,
        watches the cancel flag, and enforces the stage's soft time limit whatever the
        worker pool; `while_waiting` (e.g. a progress report) runs here between checks.
        An abandoned call finishes in the background and is discarded.
        """
        settings = get_settings()
        future: Future[T] = _call_executor().submit(fn, *args, **kwargs)
        next_beat = time.monotonic() + settings.heartbeat_interval_s
        while True:
            try:
                return future.result(timeout=settings.cancel_poll_interval_s)
            except TimeoutError:
                pass
            if cancel_requested(self.job_id):
                future.cancel()
                raise StageCanceled(self.job_id)
            if time.monotonic() > self.deadline:
                future.cancel()
                raise ProviderTimeout("the stage ran past its time limit")
            if while_waiting is not None:
                while_waiting()
            if time.monotonic() >= next_beat:
                self.beat()
                next_beat = time.monotonic() + settings.heartbeat_interval_s

    def beat(self) -> None:
        """Heartbeat the stage; raise StageCanceled if this attempt no longer owns it."""
        alive = heartbeat(self.job_id, self.stage, self.fence)
        db.session.commit()
        if not alive:
            raise StageCanceled(self.job_id)

    def save_artifact(self, name: str, data: bytes, content_type: str) -> dict[str, Any]:
        """Store a result file in the job's folder and describe it for the result."""
        write_atomic(self.workdir / name, data)
        return {"name": name, "content_type": content_type, "size": len(data)}
