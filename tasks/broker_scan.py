"""What the broker still holds: stage messages waiting in queues or unacked by a worker.

Used by the reconciler to find stages Postgres says were sent but Redis lost
(e.g. restarted without persistence). Reads kombu's Redis layout: one list per
queue and priority step (`generate`, `generate:3`, ...), and the `unacked` hash
of messages delivered to workers but not yet acknowledged (running, or waiting
for a retry countdown).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from typing import Any

from tasks.enqueue import PRIORITY_STEPS, queue_name
from tasks.redis_clients import key, scan_client

PRIORITY_SEP = ":"
"""kombu's separator between a queue name and its priority step (celeryconfig `sep`)."""

StageMessage = tuple[str, str, int]
"""(job id, stage name, expected attempts) of one stage message."""


def held_stage_messages(stages: Iterable[str]) -> set[StageMessage]:
    """Every stage message the broker holds right now."""
    client = scan_client()
    raw: list[Any] = []
    for stage in stages:
        for step in PRIORITY_STEPS:
            name = queue_name(stage) + (f"{PRIORITY_SEP}{step}" if step else "")
            raw += client.lrange(key(name), 0, -1)
    unacked = [json.loads(value)[0] for value in client.hvals(key("unacked"))]
    return set(_stage_messages([json.loads(item) for item in raw] + unacked))


def _stage_messages(messages: list[dict[str, Any]]) -> Iterator[StageMessage]:
    for message in messages:
        task = message.get("headers", {}).get("task", "")
        if not task.startswith("stage."):
            continue
        try:
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            yield str(args[0]), task.removeprefix("stage."), int(args[1])
        except (KeyError, ValueError, TypeError, IndexError):
            continue  # not one of ours, or an older message format: ignore it
