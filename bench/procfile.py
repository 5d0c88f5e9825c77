"""The Procfile's commands, read at run time, so the benchmark runs what production runs."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path

from config.settings import PROJECT_ROOT

PROCFILE = PROJECT_ROOT / "Procfile"
"""The file `make run` starts with honcho."""

_VARIABLE = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}|\$(\w+)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand `${NAME:-default}` and `$NAME` the way a shell would (no other syntax)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        found = env.get(name, "")
        return found if found else (match.group(2) or "")

    return _VARIABLE.sub(value, text)


def command(process: str, env: Mapping[str, str], path: Path = PROCFILE) -> list[str]:
    """argv of one Procfile process (e.g. `web`), with variables expanded from `env`."""
    for line in path.read_text().splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == process:
            return shlex.split(expand(rest.strip(), env))
    raise KeyError(f"{path} has no {process!r} process")


def option(argv: list[str], flag: str) -> str | None:
    """The value of `--flag value` or `--flag=value` in argv, or None."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def with_option(argv: list[str], flag: str, value: str) -> list[str]:
    """argv with `flag` set to `value`: replaced where present, else appended."""
    out, i, replaced = [], 0, False
    while i < len(argv):
        arg = argv[i]
        if arg == flag and i + 1 < len(argv):
            out += [flag, value]
            i, replaced = i + 2, True
            continue
        if arg.startswith(flag + "="):
            out.append(f"{flag}={value}")
            replaced = True
        else:
            out.append(arg)
        i += 1
    return out if replaced else [*out, flag, value]


def without_option(argv: list[str], flag: str) -> list[str]:
    """argv without `flag` and its value."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] == flag:
            i += 2
            continue
        if not argv[i].startswith(flag + "="):
            out.append(argv[i])
        i += 1
    return out
