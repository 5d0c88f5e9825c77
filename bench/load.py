"""A bounded, closed-loop HTTP load generator on aiohttp (one event loop in this process).

`concurrency` connections each send a request, wait for the answer, and send the
next, until `duration_s` or `max_requests` is reached, whichever comes first.
The client's own CPU time is measured, since it shares the machine's cores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.stats import latency_ms, percentile


@dataclass(frozen=True, kw_only=True)
class Request:
    """One HTTP request to send (path is relative to the target's base URL)."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Phase:
    """What one target answered over one or more bounded runs."""

    name: str
    requests: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    round_rps: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        """Successful requests per second."""
        return (self.requests - self.errors) / self.elapsed_s if self.elapsed_s else 0.0

    def as_json(self) -> dict[str, Any]:
        """Counts, rate, latency percentiles and the client's CPU share."""
        return {
            "requests": self.requests,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "elapsed_s": round(self.elapsed_s, 2),
            "round_rps": [round(x, 1) for x in self.round_rps],
            "rps": round(self.rps, 1),
            "latency": latency_ms(self.latencies_s),
            "client_cpu_pct": round(100 * self.client_cpu_s / self.elapsed_s, 1)
            if self.elapsed_s
            else None,
        }


def paired_ratio(a: Phase, b: Phase) -> float:
    """Median over alternating rounds of a's rate / b's rate in the same round.

    Rounds alternate within a second or two, so each pair saw about the same
    load from whatever else runs on the machine; the median of the pairs is
    steadier than the ratio of totals when that load comes and goes.
    """
    pairs = [x / y for x, y in zip(a.round_rps, b.round_rps, strict=False) if y]
    return percentile(pairs, 50) if pairs else float("nan")


def rotate(requests: list[Request]) -> Callable[[int], Request]:
    """A request maker that cycles through `requests`."""
    return lambda n: requests[n % len(requests)]


async def _run(
    phase: Phase,
    base_url: str,
    make: Callable[[int], Request],
    *,
    ok: int,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    record: bool,
) -> None:
    counter = iter(range(max_requests))
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as session:
        deadline = time.monotonic() + duration_s

        async def loop() -> None:
            for n in counter:
                if time.monotonic() >= deadline:
                    return
                req = make(n)
                start = time.perf_counter()
                try:
                    async with session.request(
                        req.method, req.path, data=req.body, headers=req.headers
                    ) as response:
                        await response.read()
                        status = response.status
                except (TimeoutError, aiohttp.ClientError):
                    status = 0
                took = time.perf_counter() - start
                if record:
                    phase.requests += 1
                    phase.statuses[status] = phase.statuses.get(status, 0) + 1
                    if status == ok:
                        phase.latencies_s.append(took)
                    else:
                        phase.errors += 1

        ok_before = phase.requests - phase.errors
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        if record:
            wall = time.perf_counter() - wall0
            phase.elapsed_s += wall
            phase.client_cpu_s += time.process_time() - cpu0
            phase.round_rps.append((phase.requests - phase.errors - ok_before) / wall)


def drive(
    phase: Phase,
    base_url: str,
    make: Callable[[int], Request],
    *,
    ok: int,
    concurrency: int,
    duration_s: float,
    max_requests: int,
    warmup_s: float = 0.0,
) -> Phase:
    """Load one target for a bounded time and count; results accumulate into `phase`."""
    common: dict[str, Any] = {"ok": ok, "concurrency": concurrency}
    if warmup_s:
        asyncio.run(
            _run(
                Phase("warmup"),
                base_url,
                make,
                duration_s=warmup_s,
                max_requests=max_requests,
                record=False,
                **common,
            )
        )
    asyncio.run(
        _run(
            phase,
            base_url,
            make,
            duration_s=duration_s,
            max_requests=max_requests,
            record=True,
            **common,
        )
    )
    return phase
