"""The migrations build the models' schema on an empty database, with nothing left over."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg2
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from tasks.db import db
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def empty_database_url() -> Iterator[str]:
    url = make_url(TEST_DATABASE_URL).set(database="genjobs_migrations_test")
    admin = psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "genjobs_migrations_test" WITH (FORCE)')
        cur.execute('CREATE DATABASE "genjobs_migrations_test"')
    yield url.render_as_string(hide_password=False)
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "genjobs_migrations_test" WITH (FORCE)')
    admin.close()


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
