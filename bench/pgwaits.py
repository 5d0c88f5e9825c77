"""What Postgres backends wait on during a phase: pg_stat_activity sampled every 50 ms.

The summary counts (state, wait event, first words of the query) over all
samples, so a lock that serialises the app shows up as the top line.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

SAMPLE_S = 0.05
"""Time between two samples."""

QUERY = """
SELECT state, coalesce(wait_event_type || ':' || wait_event, 'on CPU'), left(query, 70)
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
  AND state IN ('active', 'idle in transaction')
"""


@contextmanager
def sampled(connect: Any, into: dict[str, Any], top: int = 8) -> Iterator[None]:
    """Sample while the block runs; put the most frequent (state, wait, query) in `into`."""
    counts: Counter[str] = Counter()
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal samples
        with closing(connect()) as conn, conn.cursor() as cur:
            while not stop.wait(SAMPLE_S):
                cur.execute(QUERY)
                samples += 1
                for state, wait, query in cur.fetchall():
                    counts[f"{state} | {wait} | {' '.join(query.split())}"] += 1

    thread = threading.Thread(target=sample, name="pg-waits", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        into["pg_backends_busy_avg"] = round(sum(counts.values()) / samples, 2) if samples else 0
        into["pg_waits_top"] = (
            [[line, round(n / samples, 2)] for line, n in counts.most_common(top)]
            if samples
            else []
        )
