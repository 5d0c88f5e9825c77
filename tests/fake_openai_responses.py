"""Background responses for ``tests.fake_openai``: provider-side jobs that a client polls.

``POST /v1/responses`` with ``background: true`` answers ``queued`` with an id;
``GET /v1/responses/{id}`` answers ``in_progress`` for ``pending_polls`` reads,
then ``completed`` with an ``image_generation_call`` item (the fake's solid-colour
PNG for the input text) — or ``failed`` when the test asked for that.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

from tests.fake_openai_images import InvalidRequest, parse_size, render_png

Json = dict[str, Any]


class BackgroundResponses:
    """The fake's store of background responses; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Json] = {}
        self.pending_polls = 2
        self.fail_with: tuple[str, str] | None = None  # (code, message) for new responses

    def create(self, body: Any) -> Json:
        """Accept a background response request and answer `queued`."""
        if not isinstance(body, dict) or not body.get("input"):
            raise InvalidRequest("Missing required parameter: 'input'.", "input")
        if body.get("background") is not True:
            raise InvalidRequest("The fake only serves background responses.", "background")
        tools = body.get("tools") or [{}]
        job = {
            "id": "resp_fake" + uuid.uuid4().hex[:20],
            "model": body.get("model") or "gpt-4o-mini",
            "prompt": str(body["input"]),
            "size": parse_size(tools[0].get("size")),
            "polls_left": self.pending_polls,
            "fail_with": self.fail_with,
        }
        with self._lock:
            self._jobs[job["id"]] = job
        return _response(job, "queued")

    def retrieve(self, response_id: str) -> Json | None:
        """The response's current state; None for an unknown id."""
        with self._lock:
            job = self._jobs.get(response_id)
            if job is None:
                return None
            if job["polls_left"] > 0:
                job["polls_left"] -= 1
                return _response(job, "in_progress")
        if job["fail_with"] is not None:
            code, message = job["fail_with"]
            return _response(job, "failed") | {"error": {"code": code, "message": message}}
        width, height = job["size"]
        png = render_png(job["prompt"], width, height)
        item = {
            "type": "image_generation_call",
            "id": "ig_" + job["id"][9:],
            "status": "completed",
            "result": base64.b64encode(png).decode(),
        }
        return _response(job, "completed") | {"output": [item]}


def _response(job: Json, status: str) -> Json:
    return {
        "id": job["id"],
        "object": "response",
        "created_at": int(time.time()),
        "model": job["model"],
        "status": status,
        "background": True,
        "output": [],
        "error": None,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
    }
