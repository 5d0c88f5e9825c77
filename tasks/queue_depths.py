"""How many stage messages wait in each queue and lane, and how old the oldest is.

Reads kombu's Redis layout (see `tasks.broker_scan`): one list per queue and
priority step (`generate`, `generate:3`, `generate:6`), under BROKER_KEY_PREFIX.
kombu pushes on the left and pops on the right, so the oldest message is last.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from tasks.broker_scan import PRIORITY_SEP
from tasks.enqueue import LANE_PRIORITY, queue_name
from tasks.metrics import SENT_AT_HEADER
from tasks.pipelines import STAGE_NAMES
from tasks.provider_jobs import POLL_QUEUE
from tasks.redis_clients import key, scan_client
from tasks.webhook_outbox import WEBHOOK_QUEUE

QUEUES = (
    *(queue_name(stage) for stage in STAGE_NAMES),
    POLL_QUEUE,
    WEBHOOK_QUEUE,
    "maintenance",
)
"""Every queue the workers consume (celeryconfig's task_queues)."""


@dataclass(frozen=True)
class QueueDepth:
    """One queue: waiting messages per lane, and the age of the oldest one (if known)."""

    queue: str
    lanes: dict[str, int] = field(default_factory=dict)
    oldest_age_s: float | None = None

    @property
    def total(self) -> int:
        """Messages waiting in every lane."""
        return sum(self.lanes.values())


def list_key(queue: str, step: int) -> str:
    """The Redis list holding one queue's messages of one priority step."""
    return key(queue + (f"{PRIORITY_SEP}{step}" if step else ""))


def queue_depths(queues: tuple[str, ...] = QUEUES) -> list[QueueDepth]:
    """The depth of each queue per lane, read in one round trip."""
    pipe = scan_client().pipeline(transaction=False)
    lanes = sorted(LANE_PRIORITY.items(), key=lambda item: item[1])
    for queue in queues:
        for _lane, step in lanes:
            pipe.llen(list_key(queue, step))
            pipe.lindex(list_key(queue, step), -1)
    replies = iter(pipe.execute())
    now, depths = time.time(), []
    for queue in queues:
        counts, oldest = {}, []
        for lane, _step in lanes:
            counts[lane], last = int(next(replies)), next(replies)
            if (sent_at := _sent_at(last)) is not None:
                oldest.append(now - sent_at)
        depths.append(QueueDepth(queue, counts, max(oldest) if oldest else None))
    return depths


def unacked_messages() -> int:
    """Messages delivered to workers and not yet acknowledged (running, or held for a countdown)."""
    return int(scan_client().hlen(key("unacked")))


def _sent_at(raw: bytes | None) -> float | None:
    if not raw:
        return None
    try:
        value = json.loads(raw).get("headers", {}).get(SENT_AT_HEADER)
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None
