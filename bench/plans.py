"""The exact SQL the app sends for a request, caught in Postgres's log, and its EXPLAIN ANALYZE.

`log_min_duration_statement = 0` is switched on (ALTER SYSTEM + reload, which
reaches the app's pooled connections too) around the requests, between two
marker statements; the statements in between are the app's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.MULTILINE)
_STATEMENT = re.compile(r"duration: [\d.]+ ms\s+statement: (.*)", re.DOTALL)


@contextmanager
def statements_logged(cur: Any, log: Path, into: list[str]) -> Iterator[None]:
    """Fill `into` with every statement the server ran while the block ran."""
    marker = f"bench-marker-{time.time_ns()}"
    cur.execute("ALTER SYSTEM SET log_min_duration_statement = 0")
    cur.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # every backend applies the reload at its next command
    cur.execute(f"SELECT '{marker}-start'")
    try:
        yield
    finally:
        cur.execute(f"SELECT '{marker}-end'")
        cur.execute("ALTER SYSTEM RESET log_min_duration_statement")
        cur.execute("SELECT pg_reload_conf()")
        text = log.read_text(errors="replace")
        start = text.rfind(f"{marker}-start")
        end = text.rfind(f"{marker}-end")
        into += _statements(text[start:end]) if 0 <= start < end else []


def _statements(text: str) -> list[str]:
    starts = [m.start() for m in _ENTRY.finditer(text)] + [len(text)]
    found = []
    for a, b in zip(starts, starts[1:], strict=False):
        match = _STATEMENT.search(text[a:b])
        if match:
            found.append(" ".join(match.group(1).split()))
    return found


def first(statements: list[str], test: Callable[[str], bool]) -> str | None:
    """The first statement passing `test`."""
    return next((s for s in statements if test(s)), None)


def explain(cur: Any, statement: str) -> dict[str, Any]:
    """EXPLAIN (ANALYZE, BUFFERS) of a read-only statement, and whether it scans `jobs` whole."""
    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")
    plan = [row[0] for row in cur.fetchall()]
    text = "\n".join(plan)
    timing = re.search(r"Execution Time: ([\d.]+) ms", text)
    return {
        "statement": statement,
        "plan": plan,
        "execution_ms": float(timing.group(1)) if timing else None,
        "seq_scan_on_jobs": bool(re.search(r"Seq Scan on jobs\b", text)),
        "indexes": sorted(
            set(
                re.findall(r"(?:Index|Index Only) Scan(?: Backward)? using (\w+)", text)
                + re.findall(r"Bitmap Index Scan on (\w+)", text)
            )
        ),
    }
