"""Fixtures for the client and CLI tests: a user, a Client on the live server, a cutting proxy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from genjobs_client import Client
from tests.client.proxy import CuttingProxy


@pytest.fixture
def api_key(make_user: Callable[..., tuple[int, str]]) -> str:
    """The API key of a fresh standard user."""
    return make_user("client-user")[1]


@pytest.fixture
def api(live_server: str, api_key: str) -> Iterator[Client]:
    """A Client talking HTTP to the live server (real worker, real SSE)."""
    with Client(live_server, api_key, backoff_s=0.1) as client:
        yield client


@pytest.fixture
def proxy(live_server: str) -> Iterator[CuttingProxy]:
    """A relay to the live server that can drop connections."""
    parts = urlsplit(live_server)
    assert parts.hostname and parts.port
    with CuttingProxy((parts.hostname, parts.port)) as relay:
        yield relay


@pytest.fixture
def slow_generate(fake_provider: Any) -> Callable[[float], Any]:
    """Make the provider's image generation take this many seconds (the job's middle stage)."""

    def slow(seconds: float) -> Any:
        fake_provider.set_delay("images/generations", seconds)
        return fake_provider

    return slow
