"""The multipart form of a `script` job: the novel as a UTF-8 .txt file in field `novel`.

    curl -F kind=script -F novel=@novel.txt -F style=悬疑 -F episodes=3 -F language=zh ...

Text fields `style`, `episodes` (a whole number) and `language` are optional. The
file must be UTF-8 text (a BOM is fine); other encodings and binary files get 422,
an empty file 422, and one over SCRIPT_MAX_NOVEL_BYTES 413, each naming `novel`.
"""

from __future__ import annotations

from typing import Any

from flask import request

from config import get_settings
from webapp.api.schemas import check_novel_size
from webapp.errors import ApiError

FORM_NAMES = {
    "input.text": "novel",
    "input.style": "style",
    "input.episodes": "episodes",
    "input.language": "language",
}
"""Where the JSON path's field names come from in the form."""

FIELDS = frozenset({"novel", "style", "episodes", "language"})
"""Text fields a script form takes (the novel may also come as a text field)."""

FILES = frozenset({"novel"})
"""File fields a script form takes."""

CONTROL_BYTES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D, 0x1B}
"""Bytes that do not occur in text files; their presence means a binary file."""


def parse_input() -> dict[str, Any]:
    """The script job input from the form."""
    job_input: dict[str, Any] = {"text": _novel_text()}
    if style := request.form.get("style", "").strip():
        job_input["style"] = style
    if episodes := request.form.get("episodes", "").strip():
        if not episodes.isascii() or not episodes.isdigit():
            raise ApiError(
                422, "invalid_field", "episodes: must be a whole number", field="episodes"
            )
        job_input["episodes"] = int(episodes)
    if language := request.form.get("language", "").strip():
        job_input["language"] = language
    return job_input


def _novel_text() -> str:
    upload = request.files.get("novel")
    limit = get_settings().script_max_novel_bytes
    if upload is not None:
        data = upload.stream.read(limit + 1)  # never more than the limit in memory
    elif "novel" in request.form:  # sent as a text field (curl --form-string): fine too
        data = request.form["novel"].encode()
    else:
        raise ApiError(
            422, "invalid_field", "novel: upload the novel as a .txt file", field="novel"
        )
    check_novel_size(len(data), field="novel")
    data = data.removeprefix(b"\xef\xbb\xbf")
    if any(byte in CONTROL_BYTES for byte in data[:65536]):
        raise ApiError(
            422, "invalid_field", "novel: this looks like a binary file, not text", field="novel"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            422,
            "invalid_field",
            f"novel: must be UTF-8 text (byte {exc.start} is not); save the file as UTF-8",
            field="novel",
        ) from None
    if not text.strip():
        raise ApiError(422, "invalid_field", "novel: the file is empty", field="novel")
    return text
