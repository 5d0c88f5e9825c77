"""The offline provider: deterministic, Pillow-drawn results so the product runs with no key.

The same prompt always gives the same picture; different prompts give visibly
different ones (palette and shapes come from a hash of the prompt, and the
prompt itself is written on the image).
"""

from __future__ import annotations

import hashlib
import io
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from tasks.errors import PermanentError
from tasks.providers import ImageQuality, ProviderJob, ProviderJobStatus, local_script
from tasks.providers.local_tryon import LocalTryon
from tasks.screenplay import PartText, ScriptBrief


class LocalProvider(LocalTryon):
    """Generation without a network: good for demos, tests and development."""

    name = "local"

    def refine_prompt(self, prompt: str) -> str:
        """Tidy whitespace and end the prompt with a style hint."""
        tidy = re.sub(r"\s+", " ", prompt).strip()
        return f"{tidy}, detailed illustration"

    def submit_image(self, prompt: str, *, size: str, quality: ImageQuality) -> ProviderJob | None:
        """Local images are drawn at once (generate_image); nothing runs on another side."""
        return None

    def check_job(self, job_id: str) -> ProviderJobStatus:
        """The local provider never hands out job ids."""
        raise PermanentError(f"the local provider has no job {job_id}")

    def generate_image(self, prompt: str, *, size: str, quality: ImageQuality) -> bytes:
        """Draw a gradient, shapes and the prompt text, all derived from the prompt."""
        width, height = (int(part) for part in size.split("x"))
        digest = hashlib.sha256(prompt.encode()).digest()
        top, bottom, accent = digest[0:3], digest[3:6], digest[6:9]
        image = Image.new("RGB", (width, height))
        draw = ImageDraw.Draw(image)
        for y in range(height):
            mix = y / max(height - 1, 1)
            colour = tuple(int(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True))
            draw.line([(0, y), (width, y)], fill=colour)
        for index in range(4):
            cx, cy = digest[10 + index] / 255 * width, digest[14 + index] / 255 * height
            radius = (0.05 + digest[18 + index] / 255 * 0.15) * min(width, height)
            draw.ellipse(
                [cx - radius, cy - radius, cx + radius, cy + radius],
                outline=tuple(accent),
                width=4,
            )
        font = ImageFont.load_default(size=max(12, width // 24))
        lines = textwrap.wrap(prompt, width=34)[:6]  # ~34 characters fit at this font size
        draw.multiline_text(
            (width * 0.06, height * 0.06),
            "\n".join(lines),
            fill="white",
            font=font,
            stroke_width=2,
            stroke_fill="black",
        )
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    def outline_script(self, parts: Sequence[PartText], brief: ScriptBrief) -> dict[str, Any]:
        """A rule-based plan (see tasks.providers.local_script)."""
        return local_script.outline_script(parts, brief)

    def write_scenes(
        self,
        part: PartText,
        *,
        outline: dict[str, Any],
        brief: ScriptBrief,
        on_tokens: Callable[[int], None],
    ) -> list[dict[str, Any]]:
        """Rule-based scenes: paragraphs, quoted speech, speakers."""
        return local_script.write_scenes(part, on_tokens=on_tokens)
