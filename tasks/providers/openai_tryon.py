"""Try-on through the OpenAI API: chat (with the garment photo) for advice, then images.edit.

Every image call is one multipart `images.edit` with one or more input images
and the IMAGE_MODEL setting; errors are translated at the boundary by
`openai_provider.translate_errors`, like every other call of this provider.
"""

from __future__ import annotations

import base64
import io
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from PIL import Image

from tasks.errors import PermanentError

if TYPE_CHECKING:
    import openai

ADVICE_INSTRUCTIONS = (
    "You are a fashion stylist. The user shows a garment and names an occasion. In 3 to 5 "
    "short sentences, say whether the garment suits the occasion and how to style it: what "
    "to pair it with, colours, shoes and accessories. Answer with the advice only."
)
"""System message of the advice stage's chat call."""

STYLE_PROMPT = (
    "Restyle this garment for {occasion}. Keep its type and cut; adapt colour, fabric "
    "finish and details to the occasion. Styling notes: {advice} Show the garment alone, "
    "flat on a plain light background."
)
TRYON_PROMPT = (
    "Dress the person in the first image in the garment shown in the second image, for "
    "{occasion}. Keep the person's pose, body shape, hair, background and lighting; fit the "
    "garment naturally, with realistic folds."
)
FACESWAP_PROMPT = (
    "The first image shows a person in an outfit; the second is the same person's original "
    "photo. Make the face in the first image exactly the face of the second image (features, "
    "skin tone, expression). Change nothing else."
)

ADVICE_IMAGE_PX = 512
"""The garment photo is sent to the chat model at most this large (fewer tokens)."""

ADVICE_MAX_CHARS = 1500
"""Advice is cut to this length inside an image prompt."""


class OpenAITryon:
    """The try-on half of OpenAIProvider (mixed in there)."""

    client: openai.OpenAI
    image_model: str
    chat_model: str

    def styling_advice(self, occasion: str, garment_png: bytes) -> str:
        """One chat call with the garment photo; returns the advice text."""
        photo = base64.b64encode(_shrunk(garment_png, ADVICE_IMAGE_PX)).decode()
        content: list[Any] = [
            {"type": "text", "text": f"Occasion: {occasion}"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{photo}"}},
        ]
        with _translate_errors():
            response = self.client.chat.completions.create(
                model=self.chat_model,
                messages=[
                    {"role": "system", "content": ADVICE_INSTRUCTIONS},
                    {"role": "user", "content": content},
                ],
            )
        text = response.choices[0].message.content if response.choices else None
        if not (text or "").strip():
            raise PermanentError("the provider gave no styling advice")
        return str(text).strip()

    def style_garment(self, garment_png: bytes, *, occasion: str, advice: str) -> bytes:
        """images.edit of the garment photo."""
        prompt = STYLE_PROMPT.format(occasion=occasion, advice=advice[:ADVICE_MAX_CHARS])
        return self._edit([("garment.png", garment_png)], prompt)

    def try_on(self, person_png: bytes, garment_png: bytes, *, occasion: str) -> bytes:
        """images.edit with the person and the garment."""
        prompt = TRYON_PROMPT.format(occasion=occasion)
        return self._edit([("person.png", person_png), ("garment.png", garment_png)], prompt)

    def keep_face(self, tryon_png: bytes, person_png: bytes) -> bytes:
        """images.edit with the try-on image and the original photo."""
        images = [("tryon.png", tryon_png), ("person.png", person_png)]
        return self._edit(images, FACESWAP_PROMPT)

    def _edit(self, images: list[tuple[str, bytes]], prompt: str) -> bytes:
        files = [(name, data, "image/png") for name, data in images]
        with _translate_errors():
            response = self.client.images.edit(
                model=self.image_model, image=files, prompt=prompt, size="auto", n=1
            )
        item = response.data[0] if response.data else None
        if item is not None and item.b64_json:
            return base64.b64decode(item.b64_json)
        if item is not None and item.url:
            from tasks.providers.openai_provider import _download

            return _download(item.url, timeout_s=self.client.timeout)
        raise PermanentError("the provider returned no image")


def _translate_errors() -> AbstractContextManager[None]:
    # openai_provider imports this module (the mixin), so its helper is looked up late.
    from tasks.providers.openai_provider import translate_errors

    return translate_errors()


def _shrunk(png: bytes, longest_px: int) -> bytes:
    image = Image.open(io.BytesIO(png))
    image.thumbnail((longest_px, longest_px))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
