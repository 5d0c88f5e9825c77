"""Generation providers behind one small Protocol; pipelines never know which one runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

from config import get_settings

if TYPE_CHECKING:
    from tasks.screenplay import PartText, ScriptBrief

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
