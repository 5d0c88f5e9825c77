"""Uploads by digest: stored once, and removed by retention once no job names them."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from tasks.db import db
from tasks.models import Job
from tasks.uploads import remove_orphan_uploads, store_upload, upload_path
from tests.tryon_images import encode, garment, portrait

pytestmark = pytest.mark.timeout(30)


def _age(digest: str, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(upload_path(digest), (then, then))


def test_the_same_bytes_are_stored_once_under_their_digest(app: Any) -> None:
    png = encode(portrait())
    first, again = store_upload(png), store_upload(png)
    assert first == again
    assert upload_path(first).read_bytes() == png
    with pytest.raises(ValueError):
        upload_path("../../etc/passwd")


def test_retention_removes_old_uploads_that_no_job_names(
    app: Any, insert_job: Callable[..., str]
) -> None:
    named, garment_digest, orphan, young = (
        store_upload(encode(image))
        for image in (portrait(50, 60), garment(50, 61), garment(50, 62), garment(50, 63))
    )
    job_id = insert_job(kind="tryon")
    with app.app_context():
        db.session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(input={"human_image": named, "garment_image": garment_digest, "occasion": "x"})
        )
        db.session.commit()
    for digest in (named, garment_digest, orphan):
        _age(digest, 2 * 3600)

    with app.app_context():
        assert remove_orphan_uploads() == 1

    assert not upload_path(orphan).exists()
    assert all(upload_path(d).exists() for d in (named, garment_digest, young))
