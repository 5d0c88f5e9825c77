"""Generation providers behind one small Protocol; pipelines never know which one runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from config import get_settings

if TYPE_CHECKING:
    from tasks.errors import GenerationError
    from tasks.screenplay import PartText, ScriptBrief

ImageQuality = Literal["auto", "low", "medium", "high"]
"""Quality levels an image request may ask for."""


@dataclass(frozen=True, kw_only=True)
class ProviderJob:
    """Work a provider accepted and runs on its side; we poll it or wait for its callback."""

    id: str
    poll_after_s: float | None = None


@dataclass(frozen=True, kw_only=True)
class ProviderJobStatus:
    """What a provider says of one of its jobs: still running, done with data, or failed."""

    done: bool
    data: bytes = b""
    error: GenerationError | None = None


class Provider(Protocol):
    """What a pipeline may ask of a generation provider."""

    name: str

    def refine_prompt(self, prompt: str) -> str:
        """Return a clearer, more detailed image prompt."""
        ...

    def generate_image(self, prompt: str, *, size: str, quality: ImageQuality) -> bytes:
        """Return one PNG for the prompt."""
        ...

    def submit_image(self, prompt: str, *, size: str, quality: ImageQuality) -> ProviderJob | None:
        """Start an image on the provider's side and return its job; None: use generate_image."""
        ...

    def check_job(self, job_id: str) -> ProviderJobStatus:
        """Ask the provider how one of its jobs is doing (a short call)."""
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

    def outline_script(self, parts: Sequence[PartText], brief: ScriptBrief) -> dict[str, Any]:
        """Plan a screenplay: title, logline, characters, episodes (see tasks.screenplay)."""
        ...

    def write_scenes(
        self,
        part: PartText,
        *,
        outline: dict[str, Any],
        brief: ScriptBrief,
        on_tokens: Callable[[int], None],
    ) -> list[dict[str, Any]]:
        """Turn one part of a novel into scenes, calling `on_tokens(n)` as text arrives."""
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
