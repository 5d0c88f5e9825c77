"""The OpenAI provider: the official client, pointed at any OpenAI-compatible base URL.

The client's own retries are off (`max_retries=0`): our stage runner owns retry
policy. Its exceptions are translated into `tasks.errors` here, at the boundary.
"""

from __future__ import annotations

import base64
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import openai
from openai.types.responses import Response

from config import Settings
from tasks.errors import (
    ContentRejected,
    InvalidInput,
    PermanentError,
    ProviderAuthError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from tasks.providers import ImageQuality, ProviderJob, ProviderJobStatus
from tasks.providers.openai_tryon import OpenAITryon
from tasks.screenplay import PartText, ScriptBrief

REFINE_INSTRUCTIONS = (
    "Rewrite the user's image request as one clear, detailed prompt for an image model. "
    "Keep the user's subject and intent; answer with the prompt only."
)
"""System message for the prepare stage's chat call."""


class OpenAIProvider(OpenAITryon):
    """Images and chat through the `openai` client."""

    name = "openai"

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        image_model: str,
        chat_model: str,
        background_images: bool = False,
    ) -> None:
        self.client = client
        self.image_model = image_model
        self.chat_model = chat_model
        self.background_images = background_images

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIProvider:
        """Build the client with our timeouts and no client-side retries."""
        client = openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            timeout=settings.provider_timeout_s,
            max_retries=0,
        )
        return cls(
            client,
            image_model=settings.image_model,
            chat_model=settings.chat_model,
            background_images=settings.openai_image_mode == "background",
        )

    def refine_prompt(self, prompt: str) -> str:
        """Ask the chat model for a better image prompt; keep the original if it says nothing."""
        with translate_errors():
            response = self.client.chat.completions.create(
                model=self.chat_model,
                messages=[
                    {"role": "system", "content": REFINE_INSTRUCTIONS},
                    {"role": "user", "content": prompt},
                ],
            )
        content = response.choices[0].message.content if response.choices else None
        return (content or "").strip() or prompt

    def generate_image(self, prompt: str, *, size: str, quality: ImageQuality) -> bytes:
        """One images.generate call; returns the PNG bytes."""
        with translate_errors():
            response = self.client.images.generate(
                model=self.image_model, prompt=prompt, size=size, quality=quality, n=1
            )
        image = response.data[0] if response.data else None
        if image is not None and image.b64_json:
            return base64.b64decode(image.b64_json)
        if image is not None and image.url:
            return _download(image.url, timeout_s=self.client.timeout)
        raise PermanentError("the provider returned no image")

    def submit_image(self, prompt: str, *, size: str, quality: ImageQuality) -> ProviderJob | None:
        """In background mode, start a Responses API job with the image tool; else None."""
        if not self.background_images:
            return None
        with translate_errors():
            response = self.client.responses.create(
                model=self.chat_model,
                input=prompt,
                background=True,
                tools=[{"type": "image_generation", "size": size, "quality": quality}],
            )
        return ProviderJob(id=response.id)

    def check_job(self, job_id: str) -> ProviderJobStatus:
        """Retrieve a background response: still running, its image, or why it failed."""
        with translate_errors():
            response = self.client.responses.retrieve(job_id)
        return background_status(response)

    def outline_script(self, parts: Sequence[PartText], brief: ScriptBrief) -> dict[str, Any]:
        """One chat call for the plan (see tasks.providers.openai_script)."""
        from tasks.providers import openai_script  # it imports translate_errors from here

        return openai_script.outline_script(self.client, self.chat_model, parts, brief)

    def write_scenes(
        self,
        part: PartText,
        *,
        outline: dict[str, Any],
        brief: ScriptBrief,
        on_tokens: Callable[[int], None],
    ) -> list[dict[str, Any]]:
        """One streamed chat call per part."""
        from tasks.providers import openai_script

        return openai_script.write_scenes(
            self.client, self.chat_model, part, outline=outline, brief=brief, on_tokens=on_tokens
        )


def background_status(response: Response) -> ProviderJobStatus:
    """Read a background response's status and image into our terms."""
    if response.status in ("queued", "in_progress"):
        return ProviderJobStatus(done=False)
    if response.status == "completed":
        for item in response.output:
            result = getattr(item, "result", None) if item.type == "image_generation_call" else None
            if result:
                return ProviderJobStatus(done=True, data=base64.b64decode(result))
        return ProviderJobStatus(done=True, error=PermanentError("the provider returned no image"))
    reason = (
        response.error.message if response.error else f"the provider's job ended {response.status}"
    )
    if response.error and response.error.code in ("server_error", "rate_limit_exceeded"):
        return ProviderJobStatus(done=True, error=ProviderUnavailable(reason))
    return ProviderJobStatus(done=True, error=PermanentError(reason))


def _download(url: str, *, timeout_s: object) -> bytes:
    timeout = timeout_s if isinstance(timeout_s, int | float) else 60.0
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return bytes(response.read())
    except OSError as exc:
        raise ProviderUnavailable(f"could not download the generated image: {exc}") from exc


def _retry_after_s(response: object) -> float | None:
    headers = getattr(response, "headers", None)
    raw = headers.get("retry-after") if headers is not None else None
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn `openai` exceptions into the error tree the stage runner understands."""
    try:
        yield
    except openai.RateLimitError as exc:
        raise RateLimited(
            "the provider is rate limiting us",
            retry_after_s=_retry_after_s(exc.response),
        ) from exc
    except openai.APITimeoutError as exc:
        raise ProviderTimeout("the provider did not answer in time") from exc
    except openai.APIConnectionError as exc:
        raise ProviderUnavailable("the provider could not be reached") from exc
    except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
        raise ProviderAuthError("the provider rejected our credentials") from exc
    except openai.BadRequestError as exc:
        if exc.code == "content_policy_violation":
            raise ContentRejected(
                "the provider's content policy rejected this prompt; rephrase it"
            ) from exc
        raise InvalidInput(f"the provider rejected the request: {exc.message}") from exc
    except openai.APIStatusError as exc:
        if exc.status_code >= 500 or exc.status_code in (408, 409):
            raise ProviderUnavailable(f"the provider failed ({exc.status_code})") from exc
        raise PermanentError(f"the provider refused the request ({exc.status_code})") from exc
