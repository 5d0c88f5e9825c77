"""Uploaded input images, stored by content before the job row that names them is written.

Files live at ARTIFACTS_DIR/uploads/<sha256>.png (the SHA-256 of the normalised
PNG), so every web process and worker that shares ARTIFACTS_DIR reads the same
bytes, a repeated upload is stored once, and a job's input holds only digests.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from config import get_settings
from tasks.artifacts import write_atomic

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
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, png)
    return digest


def upload_exists(digest: str) -> bool:
    """True when an upload with this digest is stored."""
    return bool(DIGEST.fullmatch(digest)) and upload_path(digest).is_file()
