"""Worker-side tests work on the database directly, inside an application context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def app_ctx(app: Any) -> Iterator[None]:
    """An application context for direct database work."""
    with app.app_context():
        yield
