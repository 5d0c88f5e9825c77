"""Following a job: the resumable event stream, waiting on it, and polling when it fails.

Every wait has a deadline. A stream read that could outlast it is cut by a timer
that shuts the socket down, so `wait(timeout_s=5)` returns (or raises WaitTimeout)
within about 5 s whatever the network does.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx2

from genjobs_client.errors import (
    GenjobsError,
    JobCanceled,
    JobFailed,
    ServiceUnavailable,
    WaitTimeout,
)
from genjobs_client.events import Event, SSEDecoder
from genjobs_client.http import api_error, retry_after_s
from genjobs_client.models import Batch, Job, Progress

if TYPE_CHECKING:
    from genjobs_client.client import Client

STREAM_IDLE_S = 60.0
"""A stream silent this long (no event, no keep-alive) is taken as dead and reopened."""

MAX_RECONNECTS = 5
"""Consecutive failed reconnects before the stream gives up (ServiceUnavailable)."""

RECONNECT_DELAY_MAX_S = 5.0
"""Cap on the server's `retry:` hint, so a resume never waits long."""

POLL_INTERVAL_S = 2.0
"""How often to poll when the server gives no Retry-After."""


class StreamUnsupported(GenjobsError):
    """The events URL did not answer with an event stream (e.g. a buffering proxy)."""


def stream_events(
    client: Client, job_id: str, *, last_event_id: int = 0, timeout_s: float
) -> Iterator[Event]:
    """Yield the job's events after `last_event_id` until its final status, reconnecting.

    The server closes the stream after a final status. A retried job's history has an
    earlier final status, so the stream is reopened after each: it ends at once, with no
    event, only when the job is final and nothing follows.
    """
    deadline = time.monotonic() + timeout_s
    last, failures, delay_s = last_event_id, 0, 0.0
    while True:
        if delay_s:
            _sleep_until(min(time.monotonic() + delay_s, deadline))
        _check_deadline(job_id, timeout_s, deadline)
        decoder, received, final = SSEDecoder(), 0, False
        try:
            for event in _read_stream(client, job_id, last, decoder, deadline, timeout_s):
                failures, received = 0, received + 1
                if event.id is not None:
                    last = event.id
                    final = event.is_final
                yield event
        except (httpx2.TransportError, ServiceUnavailable) as exc:
            _check_deadline(job_id, timeout_s, deadline)
            failures += 1
            if failures > MAX_RECONNECTS:
                raise ServiceUnavailable(
                    0, "stream_failed", f"the event stream of job {job_id} keeps failing: {exc}"
                ) from exc
            delay_s = min((decoder.retry_ms or 1000) / 1000, RECONNECT_DELAY_MAX_S)
            continue
        if not received:
            return  # the server had nothing after `last`, and the job is final
        # After a final status: reopen at once to see whether anything follows it.
        delay_s = 0.0 if final else min((decoder.retry_ms or 1000) / 1000, RECONNECT_DELAY_MAX_S)


def _read_stream(
    client: Client,
    job_id: str,
    last: int,
    decoder: SSEDecoder,
    deadline: float,
    timeout_s: float,
) -> Iterator[Event]:
    headers = {"Accept": "text/event-stream", "Last-Event-ID": str(last)}
    timeout = httpx2.Timeout(
        STREAM_IDLE_S, connect=min(10.0, max(0.1, deadline - time.monotonic()))
    )
    with client._http.stream(
        "GET", f"/api/v1/jobs/{job_id}/events", headers=headers, timeout=timeout
    ) as response:
        if response.status_code != 200:
            response.read()
            raise api_error(response)
        if not response.headers.get("Content-Type", "").startswith("text/event-stream"):
            raise StreamUnsupported(response.headers.get("Content-Type", ""))
        with _cut_at(response, deadline):
            for line in response.iter_lines():
                _check_deadline(job_id, timeout_s, deadline)
                event = decoder.feed(line)
                if event is not None:
                    yield event


@contextlib.contextmanager
def _cut_at(response: httpx2.Response, deadline: float) -> Iterator[None]:
    """Shut the response's socket down at the deadline, so no read outlives it."""
    stream = response.extensions.get("network_stream")
    sock: socket.socket | None = stream.get_extra_info("socket") if stream is not None else None

    def cut() -> None:
        with contextlib.suppress(OSError):
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(max(0.0, deadline - time.monotonic()), cut)
    timer.daemon = True
    if sock is not None:
        timer.start()
    try:
        yield
    finally:
        timer.cancel()


def wait_for_job(
    client: Client,
    job_id: str,
    *,
    timeout_s: float,
    on_progress: Callable[[Progress], None] | None,
    use_stream: bool,
) -> Job:
    """The job once it is final: follows the stream, falls back to polling; WaitTimeout."""
    deadline = time.monotonic() + timeout_s
    notify = on_progress or (lambda progress: None)
    if use_stream:
        last: Progress | None = None
        try:
            for event in stream_events(client, job_id, timeout_s=timeout_s):
                progress = event.progress(last)
                if progress is not None and progress != last:
                    last = progress
                    notify(progress)
            return _final_job(client, job_id, timeout_s, deadline)
        except (StreamUnsupported, ServiceUnavailable):
            pass  # the stream is not available: polling still works through most proxies
    return _poll_job(client, job_id, timeout_s, deadline, notify)


def _final_job(client: Client, job_id: str, timeout_s: float, deadline: float) -> Job:
    job = Job.from_json(
        client.requests.request(
            "GET",
            f"/api/v1/jobs/{job_id}",
            repeatable=True,
            deadline=max(deadline, time.monotonic() + 5),
        ).json()
    )
    if not job.finished:  # e.g. retried by someone else meanwhile
        raise WaitTimeout(job_id, timeout_s, job)
    return job


def _poll_job(
    client: Client,
    job_id: str,
    timeout_s: float,
    deadline: float,
    notify: Callable[[Progress], None],
) -> Job:
    job: Job | None = None
    etag: str | None = None
    shown: Progress | None = None
    while True:
        headers = {"If-None-Match": etag} if etag else {}
        delay_s = POLL_INTERVAL_S
        try:
            response = client.requests.request(
                "GET", f"/api/v1/jobs/{job_id}", repeatable=True, deadline=deadline, headers=headers
            )
        except ServiceUnavailable:
            if time.monotonic() >= deadline:
                raise
        else:
            if response.status_code != 304:
                job, etag = Job.from_json(response.json()), response.headers.get("ETag")
            if job is not None and Progress.of_job(job) != shown:
                shown = Progress.of_job(job)
                notify(shown)
            if job is not None and job.finished:
                return job
            delay_s = retry_after_s(response) or POLL_INTERVAL_S
        if time.monotonic() + min(delay_s, 0.05) >= deadline:
            raise WaitTimeout(job_id, timeout_s, job)
        _sleep_until(min(time.monotonic() + delay_s, deadline))


def wait_for_batch(
    client: Client,
    batch_id: str,
    *,
    timeout_s: float,
    on_progress: Callable[[Batch], None] | None,
) -> Batch:
    """Poll the batch until every job in it has finished; WaitTimeout at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        batch = Batch.from_json(
            client.requests.request(
                "GET", f"/api/v1/batches/{batch_id}", repeatable=True, deadline=deadline
            ).json()
        )
        if on_progress is not None:
            on_progress(batch)
        if batch.finished:
            return batch
        if time.monotonic() >= deadline:
            raise WaitTimeout(batch_id, timeout_s)
        _sleep_until(min(time.monotonic() + POLL_INTERVAL_S, deadline))


def raise_for_outcome(job: Job) -> None:
    """Raise JobFailed or JobCanceled for a job that did not complete."""
    if job.status == "failed":
        raise JobFailed(job)
    if job.status == "canceled":
        raise JobCanceled(job)


def _check_deadline(job_id: str, timeout_s: float, deadline: float) -> None:
    if time.monotonic() >= deadline:
        raise WaitTimeout(job_id, timeout_s)


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))
