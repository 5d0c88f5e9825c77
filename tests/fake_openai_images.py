"""Image side of ``tests.fake_openai``: deterministic PNGs and the images endpoints.

Every image is a solid-colour PNG whose colour is ``prompt_colour(prompt)``, so a
test can tell which prompt produced which picture without any real model.
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from PIL import Image

UploadedFile = tuple[str, str, bytes]  # (form field, filename, content)


class InvalidRequest(Exception):
    """A request the real API would reject with 400 invalid_request_error."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def prompt_colour(prompt: str) -> tuple[int, int, int]:
    """Deterministic RGB colour the fake paints for ``prompt``."""
    r, g, b = hashlib.sha256(prompt.encode()).digest()[:3]
    return r, g, b


def render_png(prompt: str, width: int, height: int) -> bytes:
    """PNG of ``width`` x ``height`` filled with ``prompt_colour(prompt)``."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), prompt_colour(prompt)).save(buf, "PNG")
    return buf.getvalue()


def parse_size(size: Any) -> tuple[int, int]:
    """``"WxH"`` (or missing/"auto" = 1024x1024) -> (width, height)."""
    if size in (None, "", "auto"):
        return 1024, 1024
    m = re.fullmatch(r"(\d{1,4})x(\d{1,4})", str(size))
    if not m or not (0 < int(m[1]) <= 4096 and 0 < int(m[2]) <= 4096):
        raise InvalidRequest(f"Invalid size {size!r}; expected e.g. '1024x1024'.", "size")
    return int(m[1]), int(m[2])


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], list[UploadedFile]]:
    """Split a multipart/form-data body into text fields and uploaded files."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    msg = BytesParser(policy=HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: list[UploadedFile] = []
    for part in msg.walk() if msg.is_multipart() else ():
        if part.is_multipart():
            continue
        name = str(part.get_param("name", "", header="content-disposition"))
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            files.append((name, filename, data))
    return fields, files


def images_response(
    params: dict[str, Any], files: list[UploadedFile], edit: bool
) -> dict[str, Any]:
    """Body of a successful /images/generations (or /images/edits) response."""
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise InvalidRequest("Missing required parameter: 'prompt'.", "prompt")
    if edit and not any(field.startswith("image") for field, _, _ in files):
        raise InvalidRequest("Missing required parameter: 'image'.", "image")
    width, height = parse_size(params.get("size"))
    n = params.get("n") or 1
    if not str(n).isdigit() or not 1 <= int(n) <= 10:
        raise InvalidRequest(f"Invalid n {n!r}; must be between 1 and 10.", "n")
    b64 = base64.b64encode(render_png(prompt, width, height)).decode()
    if params.get("response_format") == "url":  # no file hosting: inline data URL
        item = {"url": "data:image/png;base64," + b64, "revised_prompt": prompt}
    else:
        item = {"b64_json": b64, "revised_prompt": prompt}
    return {
        "created": int(time.time()),
        "data": [item] * int(n),
        "size": f"{width}x{height}",
        "output_format": "png",
    }
