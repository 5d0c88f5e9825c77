"""Uploaded input images, stored by content before the job row that names them is written.

Files live at ARTIFACTS_DIR/uploads/<sha256>.png (the SHA-256 of the normalised
PNG), so every web process and worker that shares ARTIFACTS_DIR reads the same
bytes, a repeated upload is stored once, and a job's input holds only digests.
An upload that no job names any more (its jobs expired) is removed by retention
once older than ORPHAN_FILE_GRACE_S.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

from sqlalchemy import or_, select

from config import get_settings
from tasks.artifacts import write_atomic
from tasks.db import db
from tasks.models import Job

UPLOADS_FOLDER = "uploads"
"""The folder under ARTIFACTS_DIR holding uploads (never a job id, so retention skips it)."""

DIGEST = re.compile(r"[0-9a-f]{64}")
"""What an upload is named by: a lower-case hex SHA-256."""


def upload_path(digest: str) -> Path:
    """Where the upload with this digest lives (it may not exist)."""
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
    return get_settings().artifacts_dir / UPLOADS_FOLDER / f"{digest}.png"


def store_upload(png: bytes) -> str:
    """Store a normalised PNG once; returns its digest."""
    digest = hashlib.sha256(png).hexdigest()
    path = upload_path(digest)
    if path.is_file():
        path.touch()  # a fresh upload of an orphan: retention must not remove it now
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, png)
    return digest


def upload_exists(digest: str) -> bool:
    """True when an upload with this digest is stored."""
    return bool(DIGEST.fullmatch(digest)) and upload_path(digest).is_file()


UPLOAD_FIELDS = ("human_image", "garment_image")
"""Input fields of jobs that name uploads by digest."""


def remove_orphan_uploads() -> int:
    """Remove uploads older than the grace period that no job's input names; returns how many."""
    folder = get_settings().artifacts_dir / UPLOADS_FOLDER
    if not folder.is_dir():
        return 0
    cutoff = time.time() - get_settings().orphan_file_grace_s
    old = {p.stem: p for p in folder.glob("*.png") if p.stat().st_mtime < cutoff}
    digests = sorted(old)
    removed = 0
    for start in range(0, len(digests), 1000):
        chunk = digests[start : start + 1000]
        fields = [Job.input[name].astext for name in UPLOAD_FIELDS]
        rows = db.session.execute(
            select(*fields).where(or_(*(field.in_(chunk) for field in fields)))
        ).all()
        db.session.commit()
        named = {digest for row in rows for digest in row}
        for digest in set(chunk) - named:
            old[digest].unlink(missing_ok=True)
            removed += 1
    return removed
