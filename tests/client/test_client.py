"""The Python client against the running stack: live server, in-process worker, real SSE."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest
from PIL import Image

from genjobs_client import (
    AuthError,
    Client,
    Conflict,
    Event,
    InvalidRequest,
    JobCanceled,
    JobFailed,
    NotFound,
    Progress,
    ServiceUnavailable,
    WaitTimeout,
)
from tests.client.proxy import CuttingProxy

pytestmark = pytest.mark.timeout(90)


def test_wait_reports_progress_through_every_stage(api: Client) -> None:
    seen: list[Progress] = []
    job = api.submit_image("a red lighthouse", size="256x256")
    assert job.status in ("pending", "processing")
    assert job.stage_names == ("prepare", "generate", "finalize")
    done = api.wait(job.id, timeout_s=30, on_progress=seen.append)
    assert done.status == "completed" and done.progress == 100
    progress = [p.progress for p in seen]
    assert progress == sorted(progress), progress
    assert progress[-1] == 100 and seen[-1].status == "completed"
    assert {"prepare", "generate", "finalize"} <= {p.stage for p in seen}
    assert seen[0].status == "pending"
    assert [a.name for a in done.artifacts] == ["image.png", "thumbnail.png"]


def test_polling_fallback_honours_retry_after(
    live_server: str, api_key: str, slow_generate: Any
) -> None:
    slow_generate(2.2)  # under the provider timeout of the fake_provider fixture (3 s)
    polls: list[float] = []

    def record(request: httpx2.Request) -> None:
        if request.method == "GET" and "/events" not in request.url.path:
            polls.append(time.monotonic())

    http = httpx2.Client(
        base_url=live_server,
        headers={"Authorization": f"Bearer {api_key}"},
        event_hooks={"request": [record]},
    )
    with Client(live_server, api_key, http=http) as api:
        seen: list[Progress] = []
        job = api.submit_image("polled", size="256x256")
        done = api.wait(job.id, timeout_s=30, on_progress=seen.append, use_stream=False)
    assert done.status == "completed"
    assert "generate" in {p.stage for p in seen}
    gaps = [later - earlier for earlier, later in zip(polls, polls[1:], strict=False)]
    assert len(gaps) >= 1
    assert min(gaps) >= 1.9, gaps  # the server says Retry-After: 2 while the job runs


class _NoEventStreams(httpx2.HTTPTransport):
    """A network path that mangles event streams (as some buffering proxies do)."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/events"):
            return httpx2.Response(200, headers={"Content-Type": "text/html"}, content=b"<p>")
        return super().handle_request(request)


def test_wait_falls_back_to_polling_without_an_event_stream(live_server: str, api_key: str) -> None:
    http = httpx2.Client(
        base_url=live_server,
        headers={"Authorization": f"Bearer {api_key}"},
        transport=_NoEventStreams(),
    )
    with Client(live_server, api_key, http=http) as api:
        seen: list[Progress] = []
        job = api.submit_image("no stream here", size="256x256")
        done = api.wait(job.id, timeout_s=30, on_progress=seen.append)
    assert done.status == "completed"
    assert seen[-1].status == "completed" and seen[-1].progress == 100


def test_stream_resumes_after_a_forced_disconnect(
    proxy: CuttingProxy, api_key: str, slow_generate: Any
) -> None:
    slow_generate(2)
    with Client(proxy.url, api_key) as api:
        job = api.submit_image("cut me off", size="256x256")
        events, cut = [], 0
        for event in api.stream(job.id, timeout_s=40):
            events.append(event)
            if not cut and len([e for e in events if e.id is not None]) == 2:
                cut = proxy.cut_all()  # the network drops the stream mid-job
        replay = [e for e in api.stream(job.id, timeout_s=10) if e.id is not None]
    assert cut >= 1 and proxy.accepted >= 3  # submit + first stream + the resumed one
    numbered = [e for e in events if e.id is not None]
    assert [e.id for e in numbered] == list(range(1, len(numbered) + 1))  # no gap, no duplicate
    assert numbered[-1].is_final and numbered[-1].data["status"] == "completed"
    assert [_without_eta(e) for e in numbered] == [_without_eta(e) for e in replay]


def test_stream_from_an_event_id_gives_only_later_events(api: Client) -> None:
    job = api.submit_image("resume from three", size="256x256")
    api.wait(job.id, timeout_s=30)
    everything = [e.id for e in api.stream(job.id, timeout_s=10) if e.id is not None]
    later = [e.id for e in api.stream(job.id, last_event_id=3, timeout_s=10) if e.id is not None]
    assert later == everything[3:] and later


@pytest.mark.parametrize("use_stream", [True, False], ids=["stream", "polling"])
def test_wait_times_out_within_its_bound(api: Client, slow_generate: Any, use_stream: bool) -> None:
    slow_generate(6)
    job = api.submit_image("too slow", size="256x256")
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as raised:
        api.wait(job.id, timeout_s=1.5, use_stream=use_stream)
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 2.5, elapsed
    assert raised.value.job_id == job.id
    assert api.cancel(job.id).status == "canceled"


def test_cancel_then_retry_completes(api: Client, slow_generate: Any) -> None:
    slow_generate(3)
    job = api.submit_image("cancel me", size="256x256")
    for event in api.stream(job.id, timeout_s=20):
        if event.data.get("stage") == "generate":
            break  # it is running the slow stage now
    canceled = api.cancel(job.id)
    assert canceled.status == "canceled"
    with pytest.raises(JobCanceled):
        api.wait(job.id, timeout_s=10)
    with pytest.raises(Conflict):
        api.cancel(job.id)
    time.sleep(1.5)  # the running stage notices the cancel and stops
    slow_generate(0)
    assert api.retry(job.id).status in ("pending", "processing")
    done = api.wait(job.id, timeout_s=30)
    assert done.status == "completed"
    with pytest.raises(Conflict):
        api.retry(job.id)


def test_a_failed_job_raises_job_failed(api: Client, fake_provider: Any) -> None:
    fake_provider.reject_content_next("images/generations")
    job = api.submit_image("refused", size="256x256")
    with pytest.raises(JobFailed) as raised:
        api.wait(job.id, timeout_s=30)
    assert raised.value.job.error is not None
    assert raised.value.job.error["code"] == "content_rejected"
    assert api.wait(job.id, timeout_s=5, raise_on_failure=False).status == "failed"


def test_download_writes_the_result_files(api: Client, tmp_path: Path) -> None:
    job = api.wait(api.submit_image("download me", size="256x256").id, timeout_s=30)
    paths = api.download(job, tmp_path / "out")
    assert [p.name for p in paths] == ["image.png", "thumbnail.png"]
    with Image.open(paths[0]) as image:
        assert image.format == "PNG"
        assert image.size == (job.result["width"], job.result["height"])  # type: ignore[index]
    assert {a.name: a.size for a in job.artifacts}["image.png"] == paths[0].stat().st_size
    only = api.download(job.id, tmp_path / "one", names=["thumbnail.png"])
    assert [p.name for p in only] == ["thumbnail.png"]


def test_a_lost_answer_is_retried_with_the_same_idempotency_key(
    proxy: CuttingProxy, api_key: str, api: Client
) -> None:
    keys: list[str] = []

    def record(request: httpx2.Request) -> None:
        if request.method == "POST":
            keys.append(request.headers["Idempotency-Key"])

    http = httpx2.Client(
        base_url=proxy.url,
        headers={"Authorization": f"Bearer {api_key}"},
        event_hooks={"request": [record]},
    )
    proxy.lose_next_responses(1)  # the service creates the job; its answer never arrives
    with Client(proxy.url, api_key, http=http, backoff_s=0.1) as through_proxy:
        job = through_proxy.submit_image("exactly once", size="256x256")
        second = through_proxy.submit_image("exactly once", size="256x256")
    assert proxy.lost == 1
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]  # one retried call, one new call
    ids = [j.id for j in api.list_jobs().jobs]
    assert sorted(ids) == sorted([job.id, second.id]) and job.id != second.id


def test_list_filters_and_pages(api: Client) -> None:
    jobs = [api.submit_image(f"listed {i}", size="256x256") for i in range(3)]
    first = api.list_jobs(limit=2)
    rest = api.list_jobs(limit=2, cursor=first.next_cursor)
    assert [j.id for j in first.jobs + rest.jobs] == [j.id for j in reversed(jobs)]
    assert rest.next_cursor is None
    for job in jobs:
        api.wait(job.id, timeout_s=30)
    assert len(api.list_jobs(status="completed", kind="image").jobs) == 3


def test_batches_submit_and_wait(api: Client) -> None:
    batch = api.submit_batch(
        [{"kind": "image", "input": {"prompt": f"batch {i}", "size": "256x256"}} for i in range(2)]
    )
    assert batch.total == 2 and len(batch.job_ids) == 2
    seen: list[int] = []
    done = api.wait_batch(batch.id, timeout_s=30, on_progress=lambda b: seen.append(b.progress))
    assert done.status == "completed" and done.counts == {"completed": 2}
    assert seen[-1] == 100


def test_errors_are_typed(live_server: str, api: Client) -> None:
    with Client(live_server, "gj_not-a-key") as stranger, pytest.raises(AuthError) as auth:
        stranger.list_jobs()
    assert auth.value.status == 401
    with pytest.raises(NotFound):
        api.get("no-such-job")
    with pytest.raises(NotFound):
        list(api.stream("no-such-job", timeout_s=5))
    with pytest.raises(InvalidRequest) as invalid:
        api.submit_image("   ")
    assert invalid.value.field == "input.prompt"


def test_an_unreachable_service_fails_fast(unused_port: int) -> None:
    started = time.monotonic()
    with Client(f"http://127.0.0.1:{unused_port}", "gj_x", max_retries=2, backoff_s=0.1) as api:
        with pytest.raises(ServiceUnavailable):
            api.get("anything")
    assert time.monotonic() - started < 5


def _without_eta(event: Event) -> tuple[int | None, str, dict[str, Any]]:
    """An event as it was recorded (the ETA is computed when the event is sent)."""
    data = {k: v for k, v in event.data.items() if k != "eta_seconds"}
    return event.id, event.type, data


@pytest.fixture
def unused_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
