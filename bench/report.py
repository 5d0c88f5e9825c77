"""latest.json (every figure) and latest.md (the table the README shows).

A run of some scenarios replaces only theirs; the others keep their last result
(each says when it ran).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import machine, procfile
from bench.stats import Check

if TYPE_CHECKING:
    from bench.context import Bench, Outcome

RESULTS_DIR = Path(__file__).parent / "results"
"""Where latest.json and latest.md are written."""


def _number(value: float | None, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = (
        f"{value:,.0f}"
        if abs(value) >= 100
        else f"{value:,.1f}"
        if abs(value) >= 10
        else f"{value:,.2f}"
    )
    return f"{text} {unit}".strip()


def _value(check: dict[str, Any]) -> str:
    value, unit = check["value"], check["unit"]
    if value is None:
        return "–"
    if unit == "share":
        return f"{value * 100:.0f} %"
    if unit == "times":
        return f"{value:.2f}×"
    return _number(value, unit)


def _target(check: dict[str, Any]) -> str:
    sign = "≥" if check["kind"] == ">=" else "≤"
    limit, unit = check["limit"], check["unit"]
    if unit == "share":
        return f"{sign} {limit * 100:.0f} %"
    if unit == "times":
        return f"{sign} {limit:g}×"
    return f"{sign} {limit:g} {unit}"


def _verdict(check: dict[str, Any]) -> str:
    return "pass" if check["passed"] else f"**miss** by {check['miss_by'] or '?'}"


def markdown(data: dict[str, Any]) -> str:
    """The results table, the machine, and why each miss misses."""
    m = data["machine"]
    lines = [
        "| Scenario | Metric | Measured | Bare baseline | Ratio / Δ | Target | Result |",
        "|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    for name, outcome in data["scenarios"].items():
        if not outcome["checks"]:
            lines.append(f"| {name} | – | – | – | – | – | {outcome['status']} |")
        for check in outcome["checks"]:
            unit = check.get("measured_unit", "")
            lines.append(
                f"| {name} | {check['metric']} | {_number(check['measured'], unit)} | "
                f"{_number(check['baseline'], unit)} ({check['baseline_name']}) | "
                f"{_value(check)} | {_target(check)} | {_verdict(check)} |"
            )
        notes += [f"- **{name}**: {note}" for note in outcome["notes"]]
    versions = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    servers = ", ".join(f"{k} {v}" for k, v in m["servers"].items())
    header = [
        f"Measured {data['generated_at']} on {m['cores']} cores ({m['cpu_model']}), "
        f"{m['memory_gib']} GiB, Python {m['python']}, {servers}; commit {m['git_commit']}"
        f"{' (uncommitted changes)' if m['git_dirty'] else ''}. "
        f"The last run of every scenario took {data['full_run_wall_s'] or 0:.0f} s"
        f"{_partial(data)}.",
        "",
        f"Versions: {versions}.",
        "",
    ]
    return "\n".join(header + lines + ([""] + notes if notes else [])) + "\n"


def write(bench: Bench, outcomes: dict[str, Outcome], *, wall_s: float) -> list[Path]:
    """Merge this run's outcomes into latest.json and rewrite latest.md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS_DIR / "latest.json", RESULTS_DIR / "latest.md"
    old: dict[str, Any] = json.loads(json_path.read_text()) if json_path.exists() else {}
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    order = ["submit", "throughput", "overhead", "reads", "io", "memory", "streams"]
    scenarios = dict(old.get("scenarios", {}))
    for name, outcome in outcomes.items():
        scenarios[name] = {"run_at": now, **outcome.as_json()}
    env = bench.stack.env() if bench.stack.postgres else {}
    data = {
        "generated_at": now,
        "wall_s": round(wall_s, 1),
        "full_run_wall_s": round(wall_s, 1)
        if set(outcomes) >= set(order)
        else old.get("full_run_wall_s"),
        "scenarios_run": list(outcomes),
        "machine": machine.describe(bench.servers),
        "procfile": {p: _procfile(p, env) for p in ("web", "worker")},
        "scenarios": {k: scenarios[k] for k in sorted(scenarios, key=_order(order))},
        "profiles": {**old.get("profiles", {}), **bench.profiles},
    }
    _write_atomic(json_path, json.dumps(_finite(data), indent=2, default=_jsonable) + "\n")
    _write_atomic(md_path, markdown(data))
    return [json_path, md_path]


def _partial(data: dict[str, Any]) -> str:
    """What a later run of only some scenarios replaced, if it did."""
    if data["full_run_wall_s"] == data["wall_s"]:
        return ""
    return f"; then `python -m bench {' '.join(data['scenarios_run'])}` updated those rows"


def _procfile(process: str, env: dict[str, str]) -> list[str] | str:
    try:
        return procfile.command(process, {**env, "PORT": "<port>"})
    except (KeyError, OSError) as exc:
        return f"unreadable: {exc}"


def _order(order: list[str]) -> Any:
    return lambda name: order.index(name) if name in order else len(order)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Check):
        return value.as_json()
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def _finite(value: Any) -> Any:
    """The same structure with NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _write_atomic(path: Path, text: str) -> None:
    draft = path.with_suffix(path.suffix + ".tmp")
    draft.write_text(text)
    draft.replace(path)
