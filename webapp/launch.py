"""`make run`: start everything in the Procfile with honcho, on embedded services if need be.

Starts (or reuses) the embedded Postgres and Redis when DATABASE_URL / REDIS_URL
are unset, applies migrations, makes sure a demo user exists, prints where to
go, then runs honcho. On Ctrl-C honcho stops its processes and we stop the
embedded servers.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config import load_settings
from config.embedded import ensure_services, stop_services
from config.settings import PROJECT_ROOT, Settings, flower_basic_auth, secret_key

DEMO_USER = "demo"
"""The user `make run` creates on first start."""

BIN = Path(sys.executable).parent
"""The virtualenv's scripts (flask, honcho)."""


def main() -> int:
    """Prepare the services and run the Procfile until Ctrl-C."""
    settings = load_settings()
    database_url, redis_url = ensure_services(settings)
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        FLOWER_BASIC_AUTH=flower_basic_auth(settings),
        SECRET_KEY=secret_key(settings),
        PYTHONUNBUFFERED="1",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    subprocess.run([str(BIN / "flask"), "--app", "webapp", "db", "upgrade"], env=env, check=True)
    _print_banner(settings, _demo_key(settings, env))
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", "Procfile", "-p", str(settings.port)],
        cwd=PROJECT_ROOT,
        env=env,
    )
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        return honcho.wait()  # honcho got the same Ctrl-C and is stopping its processes
    finally:
        if settings.uses_embedded_services:
            print("stopping embedded Postgres and Redis", flush=True)
            stop_services(settings)


def _demo_key(settings: Settings, env: dict[str, str]) -> str:
    """The demo user's API key: created on first start, then read back from `.local/`."""
    key_file = settings.local_dir / "demo_api_key"
    flask = [str(BIN / "flask"), "--app", "webapp", "users"]
    created = subprocess.run([*flask, "create", DEMO_USER], env=env, capture_output=True, text=True)
    if created.returncode != 0 and key_file.exists():
        return key_file.read_text().strip()  # the user exists and we kept its key
    if created.returncode != 0:
        created = subprocess.run(
            [*flask, "new-key", DEMO_USER], env=env, capture_output=True, text=True, check=True
        )
    key = created.stdout.strip().splitlines()[-1]
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def _print_banner(settings: Settings, demo_key: str) -> None:
    user, _, password = flower_basic_auth(settings).partition(":")
    lines = [
        f"Web UI and API   http://{settings.host}:{settings.port}/",
        f"Flower           http://{settings.host}:{settings.flower_port}/"
        f"  (user {user}, password {password})",
        f"Demo API key     {demo_key}",
        f"Provider         {settings.generation_provider}",
        "Stop with Ctrl-C.",
    ]
    width = max(len(line) for line in lines)
    print("\n" + "=" * width + "\n" + "\n".join(lines) + "\n" + "=" * width + "\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
