"""The multipart form of a `tryon` job: two photos and an occasion, checked before anything runs.

Each image is checked by its content, never its name or declared type: PNG, JPEG
or WebP; at most TRYON_MAX_IMAGE_BYTES (413) and TRYON_MAX_IMAGE_PIXELS (422: a
small file that would decode to a huge bitmap, a "decompression bomb"); fully
decodable. It is then turned upright by its EXIF orientation, scaled to at most
NORMALISED_MAX_SIDE_PX, and stored as PNG by digest (tasks/uploads.py) before the
job row exists, so the job's input holds only the digests.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

from flask import request
from PIL import Image, ImageOps, UnidentifiedImageError

from config import get_settings
from tasks.uploads import store_upload
from webapp.errors import ApiError

FILES = frozenset({"human_image", "garment_image"})
"""File fields of the form."""

FIELDS = frozenset({"occasion"})
"""Text fields of the form."""

IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
"""Formats accepted, as Pillow detects them from the bytes."""

NORMALISED_MAX_SIDE_PX = 2048
"""Longest side of a stored upload: larger photos cost upload time and tokens, not quality."""

OCCASION_MAX_CHARS = 200
"""Longest occasion accepted."""


def parse_input() -> dict[str, Any]:
    """Validate the form, store both images; returns the job input (digests and occasion)."""
    occasion = request.form.get("occasion", "").strip()
    if not occasion:
        raise ApiError(
            422, "invalid_field", "occasion: say what the outfit is for", field="occasion"
        )
    if len(occasion) > OCCASION_MAX_CHARS:
        raise ApiError(
            422,
            "invalid_field",
            f"occasion: at most {OCCASION_MAX_CHARS} characters",
            field="occasion",
        )
    digests = {field: store_upload(normalised_png(field)) for field in sorted(FILES)}
    return {**digests, "occasion": occasion}


def normalised_png(field: str) -> bytes:
    """The uploaded image of `field`, checked, upright and re-encoded as PNG."""
    upload = request.files.get(field)
    if upload is None:
        raise ApiError(422, "invalid_field", f"{field}: attach an image file", field=field)
    limit = get_settings().tryon_max_image_bytes
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise ApiError(
            413,
            "file_too_large",
            f"{field}: the image is over {limit} bytes (TRYON_MAX_IMAGE_BYTES)",
            field=field,
        )
    if not data:
        raise ApiError(422, "invalid_image", f"{field}: the file is empty", field=field)
    image = _decode(data, field)
    image = ImageOps.exif_transpose(image)
    keep_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if keep_alpha else "RGB")
    image.thumbnail((NORMALISED_MAX_SIDE_PX, NORMALISED_MAX_SIDE_PX))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _decode(data: bytes, field: str) -> Image.Image:
    """Open and fully decode, refusing other formats and bitmaps over the pixel limit."""
    max_pixels = get_settings().tryon_max_image_pixels
    too_many = ApiError(
        422,
        "image_too_large",
        f"{field}: the image has more than {max_pixels} pixels (TRYON_MAX_IMAGE_PIXELS)",
        field=field,
    )
    try:
        # Pillow warns (then raises) about bombs past its own MAX_IMAGE_PIXELS; both refuse.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
            if image.width * image.height > max_pixels:
                raise too_many
            # JPEG only: decode at a reduced scale when the photo is far larger than we keep.
            image.draft("RGB", (NORMALISED_MAX_SIDE_PX, NORMALISED_MAX_SIDE_PX))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many from None
    except UnidentifiedImageError:
        raise ApiError(
            422,
            "unsupported_image",
            f"{field}: not a PNG, JPEG or WebP image",
            field=field,
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ApiError(
            422, "invalid_image", f"{field}: the image is damaged or cut short", field=field
        ) from None
    return image
