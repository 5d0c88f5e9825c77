"""A bounded Server-Sent Events client for many concurrent streams (aiohttp, one event loop).

Each stream records every event it receives with the local receive time, counts
heartbeat comments, and ends when the server ends it, after a final status, or
at the deadline.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

FINAL = ("completed", "failed", "canceled")


@dataclass
class Received:
    """One event as a client saw it."""

    job_id: str
    seq: int | None
    type: str
    status: str | None
    at: float


@dataclass
class StreamLog:
    """What all streams saw."""

    events: list[Received] = field(default_factory=list)
    heartbeats: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    opened: int = 0
    ended_final: int = 0


async def _one(
    session: aiohttp.ClientSession,
    path: str,
    job_id: str,
    headers: dict[str, str],
    log: StreamLog,
    deadline: float,
) -> None:
    try:
        async with session.get(path, headers=headers) as response:
            log.statuses[response.status] = log.statuses.get(response.status, 0) + 1
            if response.status != 200:
                return
            log.opened += 1
            fields: dict[str, str] = {}
            while time.monotonic() < deadline:
                raw = await asyncio.wait_for(
                    response.content.readline(), timeout=max(0.1, deadline - time.monotonic())
                )
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                if line.startswith(":"):
                    log.heartbeats += 1
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                elif "data" in fields:
                    if _record(log, job_id, fields):
                        log.ended_final += 1
                        return
                    fields = {}
    except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
        if time.monotonic() < deadline:
            log.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def _record(log: StreamLog, job_id: str, fields: dict[str, str]) -> bool:
    """Note one event; True when it is a final status."""
    data: dict[str, Any] = json.loads(fields["data"])
    status = data.get("status")
    seq = int(fields["id"]) if fields.get("id", "").isdigit() else None
    kind = fields.get("event", "message")
    log.events.append(Received(job_id, seq, kind, status, time.time()))
    return kind == "status" and status in FINAL


async def hold_streams(
    base_url: str,
    job_ids: list[str],
    headers: dict[str, str],
    *,
    duration_s: float,
    log: StreamLog,
) -> None:
    """Open one stream per job at once and read them all until they end or time runs out."""
    deadline = time.monotonic() + duration_s
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:
        await asyncio.gather(
            *(_one(session, f"/api/v1/jobs/{j}/events", j, headers, log, deadline) for j in job_ids)
        )
