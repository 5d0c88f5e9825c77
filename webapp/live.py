"""One Redis subscription per web process, fanned out to the event streams open in it.

Workers publish every committed job event on one channel. Each web process
runs a single listener (a thread, or a greenlet under gevent) that hands each
event to the inboxes of the streams watching that job, so a thousand open
streams cost one Redis connection and no Postgres polling. After any
(re)subscription the hub sends every inbox RESYNC: pub/sub may have dropped
events meanwhile, and the stream then catches up from Postgres.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from config import service_urls
from tasks.live_events import channel

log = logging.getLogger(__name__)

RESYNC = "resync"
"""Put in every inbox after (re)subscribing: read what you may have missed from Postgres."""

RECONNECT_DELAY_S = 1.0
"""Pause between attempts to resubscribe after Redis went away."""


class EventHub:
    """Job events from Redis, dispatched to in-process inboxes by job id."""

    def __init__(self, redis_url: str, channel_name: str) -> None:
        self._redis_url, self._channel = redis_url, channel_name
        self._inboxes: dict[str, set[queue.Queue[Any]]] = defaultdict(set)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
        self._thread.start()

    @contextmanager
    def listen(self, job_id: str) -> Iterator[queue.Queue[Any]]:
        """An inbox receiving this job's events (dicts) and RESYNC markers while open."""
        inbox: queue.Queue[Any] = queue.Queue(maxsize=1000)
        with self._lock:
            self._inboxes[job_id].add(inbox)
        try:
            yield inbox
        finally:
            with self._lock:
                self._inboxes[job_id].discard(inbox)
                if not self._inboxes[job_id]:
                    del self._inboxes[job_id]

    def watched_jobs(self) -> list[str]:
        """The jobs that have open streams in this process."""
        with self._lock:
            return list(self._inboxes)

    def open_streams(self) -> int:
        """How many inboxes are open in this process."""
        with self._lock:
            return sum(len(inboxes) for inboxes in self._inboxes.values())

    def _run(self) -> None:
        while True:
            try:
                self._listen_once()
            except (redis.RedisError, OSError) as exc:
                log.warning("event hub lost Redis (%s); resubscribing", exc)
            time.sleep(RECONNECT_DELAY_S)

    def _listen_once(self) -> None:
        client = redis.Redis.from_url(
            self._redis_url, socket_connect_timeout=3, health_check_interval=30
        )
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._channel)
            self._broadcast(None, RESYNC)
            for message in pubsub.listen():
                event = json.loads(message["data"])
                self._broadcast(event["job_id"], event)
        finally:
            pubsub.close()
            client.close()

    def _broadcast(self, job_id: str | None, item: Any) -> None:
        with self._lock:
            if job_id is None:
                targets = [inbox for inboxes in self._inboxes.values() for inbox in inboxes]
            else:
                targets = list(self._inboxes.get(job_id, ()))
        for inbox in targets:
            try:
                inbox.put_nowait(item)
            except queue.Full:
                pass  # a stuck stream: it resyncs from Postgres on its next gap


_hub: EventHub | None = None
_hub_pid = 0
_hub_lock = threading.Lock()


def event_hub() -> EventHub:
    """This process's hub, started on first use (after any fork)."""
    global _hub, _hub_pid
    with _hub_lock:
        if _hub is None or _hub_pid != os.getpid():
            _hub, _hub_pid = EventHub(service_urls()[1], channel()), os.getpid()
        return _hub
