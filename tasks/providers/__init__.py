"""Generation providers behind one small Protocol; pipelines never know which one runs."""

from __future__ import annotations

from functools import cache
from typing import Literal, Protocol

from config import get_settings

ImageQuality = Literal["auto", "low", "medium", "high"]
"""Quality levels an image request may ask for."""


class Provider(Protocol):
    """What a pipeline may ask of a generation provider."""

    name: str

    def refine_prompt(self, prompt: str) -> str:
        """Return a clearer, more detailed image prompt."""
        ...

    def generate_image(self, prompt: str, *, size: str, quality: ImageQuality) -> bytes:
        """Return one PNG for the prompt."""
        ...

    # Try-on (tasks/pipelines/tryon.py); every image in and out is PNG bytes.
    def styling_advice(self, occasion: str, garment_png: bytes) -> str:
        """Return styling advice for wearing this garment to the occasion."""
        ...

    def style_garment(self, garment_png: bytes, *, occasion: str, advice: str) -> bytes:
        """Return the garment restyled for the occasion."""
        ...

    def try_on(self, person_png: bytes, garment_png: bytes, *, occasion: str) -> bytes:
        """Return the person wearing the garment."""
        ...

    def keep_face(self, tryon_png: bytes, person_png: bytes) -> bytes:
        """Return the try-on image with the person's own face restored."""
        ...


@cache
def get_provider() -> Provider:
    """The provider chosen by GENERATION_PROVIDER, built once per process."""
    settings = get_settings()
    if settings.generation_provider == "openai":
        from tasks.providers.openai_provider import OpenAIProvider

        return OpenAIProvider.from_settings(settings)
    from tasks.providers.local import LocalProvider

    return LocalProvider()
