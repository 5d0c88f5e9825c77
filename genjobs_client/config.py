"""Where the command line finds the service and its key: flags first, then the environment.

    GENJOBS_URL       the service's base URL (default http://127.0.0.1:8000)
    GENJOBS_API_KEY   your API key (gj_...)

This is the command line's own configuration, apart from the service's `config/`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8000"
"""Where `make run` serves the API."""


class ConfigError(Exception):
    """A required setting is missing or malformed; the message names the flag and variable."""


@dataclass(frozen=True)
class ClientConfig:
    """The service's base URL and the caller's API key."""

    url: str
    api_key: str


def load_client_config(
    url: str | None, api_key: str | None, environ: Mapping[str, str] | None = None
) -> ClientConfig:
    """Flags win over GENJOBS_URL / GENJOBS_API_KEY; a missing key is a ConfigError."""
    env = os.environ if environ is None else environ
    url = url or env.get("GENJOBS_URL") or DEFAULT_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"--url / GENJOBS_URL must start with http:// or https://, not {url!r}")
    api_key = api_key or env.get("GENJOBS_API_KEY")
    if not api_key:
        raise ConfigError("no API key: pass --api-key or set GENJOBS_API_KEY")
    return ClientConfig(url=url, api_key=api_key)
