"""Where a job's files live: one folder per job under ARTIFACTS_DIR."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from PIL import Image

from config import get_settings

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
"""Artifact names are plain file names: no slashes, no leading dot."""


def job_dir(job_id: str) -> Path:
    """The folder holding one job's files (created on demand)."""
    path = get_settings().artifacts_dir / job_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def artifact_path(job_id: str, name: str) -> Path | None:
    """The path of an existing artifact, or None for a bad name or a missing file."""
    if not SAFE_NAME.match(name) or not re.fullmatch(r"[0-9a-f]{32}", job_id):
        return None
    path = get_settings().artifacts_dir / job_id / name
    return path if path.is_file() else None


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so readers see all of it or none of it (a crash leaves no half file)."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.part")
    draft.write_bytes(data)
    os.replace(draft, path)


def png_bytes(image: Image.Image) -> bytes:
    """An image encoded as PNG."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
