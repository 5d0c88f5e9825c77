"""Try-on without a network: rule-based advice and Pillow compositions of the two photos.

Deterministic and visibly derived from the inputs: the garment is tinted with the
occasion's palette (style), pasted over the person's torso (tryon), and the
person's original face region is pasted back on top (faceswap). The regions are
fixed proportions of a portrait photo, not detected: good enough to see every
stage's effect offline.
"""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from tasks.artifacts import png_bytes

RGB = tuple[int, int, int]

PALETTES: tuple[tuple[tuple[str, ...], str, RGB, RGB, str], ...] = (
    (
        ("wedding", "bride", "engagement", "婚礼", "婚"),
        "soft pastels",
        (150, 110, 130),
        (252, 236, 240),
        "light layers, a delicate accessory and polished shoes; never white or black",
    ),
    (
        ("interview", "office", "business", "meeting", "work", "面试", "办公", "会议"),
        "navy and charcoal",
        (25, 35, 70),
        (200, 208, 222),
        "clean lines, a structured layer and closed shoes; keep jewellery minimal",
    ),
    (
        ("party", "evening", "gala", "cocktail", "night", "date", "派对", "晚宴", "约会"),
        "deep jewel tones",
        (70, 10, 60),
        (235, 180, 70),
        "one statement piece, a metallic accent and heels or sleek boots",
    ),
    (
        ("beach", "summer", "vacation", "holiday", "picnic", "海滩", "夏", "度假"),
        "bright summer colours",
        (0, 100, 130),
        (255, 225, 130),
        "breathable fabrics, sandals and sunglasses",
    ),
    (
        ("funeral", "memorial", "葬礼"),
        "black and grey",
        (12, 12, 12),
        (150, 150, 150),
        "plain dark pieces, no patterns, quiet shoes",
    ),
)
"""(keywords, palette name, dark colour, light colour, tips); the first match wins."""

COLOUR_NAMES: tuple[tuple[str, RGB], ...] = (
    ("black", (20, 20, 20)),
    ("white", (240, 240, 240)),
    ("grey", (128, 128, 128)),
    ("red", (200, 30, 40)),
    ("orange", (240, 140, 30)),
    ("yellow", (240, 220, 50)),
    ("green", (40, 150, 60)),
    ("blue", (40, 80, 200)),
    ("navy", (20, 30, 80)),
    ("purple", (120, 50, 150)),
    ("pink", (240, 150, 180)),
    ("brown", (120, 75, 40)),
    ("beige", (220, 200, 160)),
)
"""Names for a garment's average colour, nearest wins."""

TORSO_BOX = (0.22, 0.34, 0.78, 0.92)
"""Where a portrait's torso is, as fractions of (left, top, right, bottom)."""

FACE_BOX = (0.30, 0.04, 0.70, 0.36)
"""Where a portrait's face is, as fractions of (left, top, right, bottom)."""

GRADE = 0.3
"""How strongly tryon grades the whole photo towards the occasion's light colour."""


class LocalTryon:
    """The try-on half of LocalProvider (mixed in there)."""

    def styling_advice(self, occasion: str, garment_png: bytes) -> str:
        """Advice from the occasion's palette and the garment's own average colour."""
        keywords, palette, _, _, tips = palette_for(occasion)
        colour = _colour_name(_average_colour(_open(garment_png)))
        known = "" if keywords else " (no known occasion; a palette chosen from its name)"
        return (
            f"For {occasion.strip()}: your {colour} garment works best in {palette}{known}. "
            f"Style it with {tips}. Keep the rest of the outfit simple so the garment leads."
        )

    def style_garment(self, garment_png: bytes, *, occasion: str, advice: str) -> bytes:
        """Tint the garment with the occasion's palette (its shading kept)."""
        _, _, dark, light, _ = palette_for(occasion)
        garment = _open(garment_png).convert("RGBA")
        tinted = ImageOps.colorize(ImageOps.grayscale(garment), black=dark, white=light)
        styled = Image.blend(garment.convert("RGB"), tinted, 0.65).convert("RGBA")
        styled.putalpha(garment.getchannel("A"))
        return png_bytes(styled)

    def try_on(self, person_png: bytes, garment_png: bytes, *, occasion: str) -> bytes:
        """Paste the garment over the person's torso, then grade the whole photo.

        The grade (the occasion's light colour over everything, face included) stands
        for a model re-drawing the whole picture: it is what faceswap undoes.
        """
        person = _open(person_png).convert("RGB")
        box = _box(person.size, TORSO_BOX)
        size = (box[2] - box[0], box[3] - box[1])
        garment = _open(garment_png).convert("RGBA").resize(size)
        mask = _soft_mask(size, rounded=True)
        alpha = Image.composite(garment.getchannel("A"), Image.new("L", size, 0), mask)
        person.paste(garment.convert("RGB"), (box[0], box[1]), alpha)
        light = palette_for(occasion)[3]
        return png_bytes(Image.blend(person, Image.new("RGB", person.size, light), GRADE))

    def keep_face(self, tryon_png: bytes, person_png: bytes) -> bytes:
        """Paste the person's original face region back over the try-on image."""
        result = _open(tryon_png).convert("RGB")
        person = _open(person_png).convert("RGB").resize(result.size)
        box = _box(result.size, FACE_BOX)
        size = (box[2] - box[0], box[3] - box[1])
        result.paste(person.crop(box), (box[0], box[1]), _soft_mask(size, rounded=False))
        return png_bytes(result)


def palette_for(occasion: str) -> tuple[tuple[str, ...], str, RGB, RGB, str]:
    """The occasion's palette; an unknown occasion gets one derived from its text."""
    lowered = occasion.lower()
    for entry in PALETTES:
        if any(word in lowered for word in entry[0]):
            return entry
    digest = hashlib.sha256(lowered.strip().encode()).digest()
    dark = (digest[0] // 3, digest[1] // 3, digest[2] // 3)
    light = (155 + digest[3] % 100, 155 + digest[4] % 100, 155 + digest[5] % 100)
    return (), "a palette of your own", dark, light, "one accent colour and neutral shoes"


Box = tuple[int, int, int, int]


def _box(size: tuple[int, int], fractions: tuple[float, float, float, float]) -> Box:
    width, height = size
    left, top, right, bottom = fractions
    return (int(left * width), int(top * height), int(right * width), int(bottom * height))


def _soft_mask(size: tuple[int, int], *, rounded: bool) -> Image.Image:
    """An opaque shape with feathered edges: a rounded rectangle or an ellipse."""
    width, height = size
    feather = max(1, min(width, height) // 20)
    mask = Image.new("L", size, 0)
    shape = [feather, feather, max(feather, width - feather), max(feather, height - feather)]
    draw = ImageDraw.Draw(mask)
    if rounded:
        draw.rounded_rectangle(shape, radius=min(width, height) // 6, fill=255)
    else:
        draw.ellipse(shape, fill=255)
    return mask.filter(ImageFilter.GaussianBlur(feather / 2))


def _average_colour(image: Image.Image) -> RGB:
    red, green, blue = image.convert("RGB").resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[misc]
    return int(red), int(green), int(blue)


def _colour_name(colour: RGB) -> str:
    def distance(named: RGB) -> int:
        return sum((a - b) ** 2 for a, b in zip(colour, named, strict=True))

    return min(COLOUR_NAMES, key=lambda entry: distance(entry[1]))[0]


def _open(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image
