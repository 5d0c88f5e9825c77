"""The genjobs API client: submit jobs, watch them, cancel or retry them, fetch their results.

with Client("http://127.0.0.1:8000", api_key="gj_...") as client:
    job = client.submit_image("a red lighthouse")
    job = client.wait(job.id, timeout_s=300, on_progress=print)
    client.download(job, "out/")
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2

from genjobs_client import streaming
from genjobs_client.events import Event
from genjobs_client.http import Requester
from genjobs_client.models import Batch, Job, Page, Progress

DEFAULT_WAIT_S = 600.0
"""How long `wait` and `stream` wait for a job unless told otherwise."""

FileInput = str | Path | bytes
"""A file to upload: its path, or its bytes."""


class Client:
    """A typed, synchronous client of one genjobs service (thread-safe for separate calls)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        http: httpx2.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http or httpx2.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "genjobs-client/0.1"},
            timeout=httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
        )
        self.requests = Requester(self._http, max_retries=max_retries, backoff_s=backoff_s)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    # --- submitting ---------------------------------------------------------------

    def submit(
        self,
        kind: str,
        input: dict[str, Any] | None = None,
        *,
        priority: str | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        fields: dict[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a job (JSON, or multipart when `files` are given); retries reuse one key."""
        headers = {"Idempotency-Key": idempotency_key or f"genjobs-client-{uuid.uuid4()}"}
        if files:
            form = {"kind": kind, **(fields or {})}
            if priority:
                form["priority"] = priority
            body: dict[str, Any] = {"data": form, "files": files}
        else:
            payload: dict[str, Any] = {"kind": kind, "input": input or {}}
            if priority:
                payload["priority"] = priority
            body = {"json": payload}
        response = self.requests.request(
            "POST", "/api/v1/jobs", repeatable=True, headers=headers, **body
        )
        return Job.from_json(response.json())

    def submit_image(
        self,
        prompt: str,
        *,
        size: str | None = None,
        quality: str | None = None,
        priority: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit an image job from a prompt."""
        job_input: dict[str, Any] = {"prompt": prompt}
        if size:
            job_input["size"] = size
        if quality:
            job_input["quality"] = quality
        return self.submit("image", job_input, priority=priority, idempotency_key=idempotency_key)

    def submit_script(
        self,
        novel: FileInput | None = None,
        *,
        text: str | None = None,
        style: str | None = None,
        episodes: int | None = None,
        language: str | None = None,
        priority: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a script job: a novel as a .txt file (multipart), or its `text` (JSON)."""
        options = {"style": style, "episodes": episodes, "language": language}
        options = {name: value for name, value in options.items() if value is not None}
        if (novel is None) == (text is None):
            raise ValueError("give either the novel file or its text")
        if text is not None:
            return self.submit(
                "script",
                {"text": text, **options},
                priority=priority,
                idempotency_key=idempotency_key,
            )
        assert novel is not None
        return self.submit(
            "script",
            files={"novel": _file_part(novel, "novel.txt", "text/plain; charset=utf-8")},
            fields={name: str(value) for name, value in options.items()},
            priority=priority,
            idempotency_key=idempotency_key,
        )

    def submit_tryon(
        self,
        human_image: FileInput,
        garment_image: FileInput,
        occasion: str,
        *,
        priority: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Submit a try-on job: a photo of the person, one of the garment, and the occasion."""
        return self.submit(
            "tryon",
            files={
                "human_image": _file_part(human_image, "human.png", None),
                "garment_image": _file_part(garment_image, "garment.png", None),
            },
            fields={"occasion": occasion},
            priority=priority,
            idempotency_key=idempotency_key,
        )

    # --- reading and steering -----------------------------------------------------

    def get(self, job_id: str) -> Job:
        """One job."""
        return Job.from_json(self._get_json(f"/api/v1/jobs/{job_id}"))

    def list_jobs(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page:
        """One page of your jobs, newest first."""
        params = {"status": status, "kind": kind, "limit": limit, "cursor": cursor}
        body = self._get_json(
            "/api/v1/jobs", params={k: v for k, v in params.items() if v is not None}
        )
        return Page([Job.from_json(j) for j in body["data"]], body.get("next_cursor"))

    def cancel(self, job_id: str) -> Job:
        """Cancel a job (pending: at once; processing: within about a second)."""
        return self._post_job(f"/api/v1/jobs/{job_id}/cancel")

    def retry(self, job_id: str) -> Job:
        """Send a failed or canceled job back to run from the stage that did not finish."""
        return self._post_job(f"/api/v1/jobs/{job_id}/retry")

    def stream(
        self, job_id: str, *, last_event_id: int = 0, timeout_s: float = DEFAULT_WAIT_S
    ) -> Iterator[Event]:
        """The job's events until it finishes, resuming after a disconnect; bounded by timeout."""
        return streaming.stream_events(
            self, job_id, last_event_id=last_event_id, timeout_s=timeout_s
        )

    def wait(
        self,
        job_id: str,
        *,
        timeout_s: float = DEFAULT_WAIT_S,
        on_progress: Callable[[Progress], None] | None = None,
        use_stream: bool = True,
        raise_on_failure: bool = True,
    ) -> Job:
        """Wait until the job finishes: its final state, or JobFailed/JobCanceled/WaitTimeout."""
        job = streaming.wait_for_job(
            self, job_id, timeout_s=timeout_s, on_progress=on_progress, use_stream=use_stream
        )
        if raise_on_failure:
            streaming.raise_for_outcome(job)
        return job

    def run(
        self,
        kind: str,
        input: dict[str, Any],
        *,
        timeout_s: float = DEFAULT_WAIT_S,
        on_progress: Callable[[Progress], None] | None = None,
        priority: str | None = None,
    ) -> Job:
        """Submit a JSON job and wait for it to complete."""
        job = self.submit(kind, input, priority=priority)
        return self.wait(job.id, timeout_s=timeout_s, on_progress=on_progress)

    def download(
        self, job: Job | str, dest_dir: str | Path, *, names: list[str] | None = None
    ) -> list[Path]:
        """Save the job's result files (or only `names`) into `dest_dir`; returns their paths."""
        if isinstance(job, str):
            job = self.get(job)
        folder = Path(dest_dir)
        folder.mkdir(parents=True, exist_ok=True)
        saved = []
        for artifact in job.artifacts:
            if names is not None and artifact.name not in names:
                continue
            target = folder / Path(artifact.name).name  # never outside dest_dir
            response = self.requests.request("GET", artifact.url, repeatable=True)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(response.content)
            partial.replace(target)
            saved.append(target)
        return saved

    # --- batches ------------------------------------------------------------------

    def submit_batch(
        self, jobs: list[dict[str, Any]], *, idempotency_key: str | None = None
    ) -> Batch:
        """Submit many JSON jobs at once ({"kind", "input", "priority"?} each), all or none."""
        headers = {"Idempotency-Key": idempotency_key or f"genjobs-client-{uuid.uuid4()}"}
        response = self.requests.request(
            "POST", "/api/v1/batches", repeatable=True, headers=headers, json={"jobs": jobs}
        )
        return Batch.from_json(response.json())

    def get_batch(self, batch_id: str) -> Batch:
        """One batch with its counts and job ids."""
        return Batch.from_json(self._get_json(f"/api/v1/batches/{batch_id}"))

    def cancel_batch(self, batch_id: str) -> Batch:
        """Cancel every unfinished job of the batch."""
        response = self.requests.request(
            "POST", f"/api/v1/batches/{batch_id}/cancel", repeatable=False
        )
        return Batch.from_json(response.json())

    def wait_batch(
        self,
        batch_id: str,
        *,
        timeout_s: float = DEFAULT_WAIT_S,
        on_progress: Callable[[Batch], None] | None = None,
    ) -> Batch:
        """Poll the batch until all its jobs finish; WaitTimeout after `timeout_s`."""
        return streaming.wait_for_batch(
            self, batch_id, timeout_s=timeout_s, on_progress=on_progress
        )

    def _get_json(self, path: str, **kwargs: Any) -> Any:
        return self.requests.request("GET", path, repeatable=True, **kwargs).json()

    def _post_job(self, path: str) -> Job:
        return Job.from_json(self.requests.request("POST", path, repeatable=False).json())


def _file_part(
    source: FileInput, default_name: str, content_type: str | None
) -> tuple[str, bytes, str]:
    """A multipart file part; read now, so a repeated request sends the same bytes."""
    if isinstance(source, bytes):
        name, data = default_name, source
    else:
        path = Path(source)
        name, data = path.name, path.read_bytes()
    if content_type is None:
        suffix = Path(name).suffix.lower()
        content_type = {
            ".png": "image/png",
            ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg",
            ".webp": "image/webp",
        }.get(suffix, "application/octet-stream")
    return name, data, content_type
