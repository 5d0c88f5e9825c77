"""What the numbers were measured on: cores, memory, CPU, Python and the versions in play."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from typing import Any

import psutil

from config.settings import PROJECT_ROOT

PACKAGES = (
    "flask",
    "gunicorn",
    "celery",
    "kombu",
    "redis",
    "sqlalchemy",
    "psycopg2-binary",
    "gevent",
    "aiohttp",
    "py-spy",
)
"""Packages whose versions shape the figures."""


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip()


def describe(server_versions: dict[str, str]) -> dict[str, Any]:
    """The machine and software versions, for latest.json and latest.md."""
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        "servers": server_versions,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
