"""Publishing job events to Redis once they are committed, for live streams (SSE).

`tasks.states` queues each event it writes on the session; an `after_commit`
hook publishes them on one channel, and a rollback drops them, so a stream never
sees a change that did not happen. A failed publish is logged and never breaks
the write: streams catch up from Postgres.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from tasks.redis_clients import key, quick_client

log = logging.getLogger(__name__)

CHANNEL = "genjobs:events"
"""The Redis channel every job event is published on (under BROKER_KEY_PREFIX)."""

_QUEUED = "genjobs_events_to_publish"


def channel() -> str:
    """This deployment's event channel."""
    return key(CHANNEL)


def publish_after_commit(
    session: Session, job_id: str, seq: int, kind: str, data: dict[str, Any]
) -> None:
    """Publish this event if and when the session's transaction commits."""
    session.info.setdefault(_QUEUED, []).append(
        json.dumps({"job_id": job_id, "seq": seq, "type": kind, "data": data})
    )


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    messages = session.info.pop(_QUEUED, None)
    if not messages:
        return
    try:
        pipe = quick_client().pipeline(transaction=False)
        for message in messages:
            pipe.publish(channel(), message)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001  (redis-py also raises ValueError on a closed socket)
        # The change is committed; raising here would break the stage that made it.
        log.warning(
            "%s job events not published (streams catch up from Postgres): %s", len(messages), exc
        )


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(_QUEUED, None)
