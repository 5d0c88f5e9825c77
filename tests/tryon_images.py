"""Photos for try-on tests: a portrait, a garment, EXIF-rotated JPEGs and decompression bombs."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

SKIN = (224, 172, 140)
"""The portrait's face colour."""

SHIRT = (40, 90, 200)
"""The portrait's own shirt."""

GARMENT = (200, 30, 40)
"""The garment photo's colour."""


def encode(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    """The image's bytes in `fmt`."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def portrait(width: int = 240, height: int = 320) -> Image.Image:
    """A grey background, a face-coloured oval on top and a blue shirt below."""
    image = Image.new("RGB", (width, height), (235, 235, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse([0.3 * width, 0.04 * height, 0.7 * width, 0.36 * height], fill=SKIN)
    draw.rectangle([0.2 * width, 0.36 * height, 0.8 * width, height], fill=SHIRT)
    return image


def garment(width: int = 160, height: int = 200) -> Image.Image:
    """A red garment with a lighter collar, so its shading shows after tinting."""
    image = Image.new("RGB", (width, height), GARMENT)
    ImageDraw.Draw(image).rectangle([0, 0, width, height // 8], fill=(240, 200, 200))
    return image


def rotated_jpeg() -> bytes:
    """A 60x30 JPEG (left half red, right half blue) whose EXIF says: rotate 90° clockwise."""
    image = Image.new("RGB", (60, 30), (220, 20, 20))
    ImageDraw.Draw(image).rectangle([30, 0, 60, 30], fill=(20, 20, 220))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; show it rotated 90° clockwise
    return encode(image, "JPEG", exif=exif.tobytes(), quality=95)


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (Pillow reads the header first)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
