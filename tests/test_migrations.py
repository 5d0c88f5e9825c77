"""The migrations build the models' schema on an empty database, with nothing left over."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from tasks.db import db
from tests.conftest import TEST_DATABASE_URL, admin_connection


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    url = make_url(TEST_DATABASE_URL)
    url = url.set(database=f"{url.database}_migrations")
    with admin_connection(TEST_DATABASE_URL) as cur:
        cur.execute(f'CREATE DATABASE "{url.database}"')
    yield url.render_as_string(hide_password=False)
    with admin_connection(TEST_DATABASE_URL) as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


def test_migrations_apply_to_an_empty_database(
    empty_database_url: str, make_app: Callable[..., Any]
) -> None:
    app = make_app({"SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
        db.engine.dispose()
    assert diff == []
