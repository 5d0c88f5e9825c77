"""The image pipeline: prepare (refine the prompt) -> generate -> finalize (PNG + thumbnail)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from tasks.artifacts import write_atomic
from tasks.errors import PermanentError
from tasks.pipelines import Stage

if TYPE_CHECKING:
    from tasks.context import StageContext

RAW_FILE = "generated.png"
"""What the generate stage leaves for finalize; its presence means no second paid call."""

THUMBNAIL_PX = 256
"""Longest side of the thumbnail artifact."""


def prepare(ctx: StageContext) -> dict[str, Any]:
    """Check the prompt and let the provider refine it."""
    ctx.report(0.2, "Refining the prompt")
    refined = ctx.call(ctx.provider.refine_prompt, ctx.input["prompt"])
    return {"prompt": refined}


def generate(ctx: StageContext) -> dict[str, Any]:
    """Generate the image, unless an earlier attempt already did."""
    raw = ctx.workdir / RAW_FILE
    if not raw.exists():
        ctx.report(0.1, "Generating the image")
        png = ctx.call(
            ctx.provider.generate_image,
            ctx.outputs["prepare"]["prompt"],
            size=ctx.input.get("size", "1024x1024"),
            quality=ctx.input.get("quality", "auto"),
        )
        write_atomic(raw, png)
    return {"file": RAW_FILE, "provider": ctx.provider.name}


def finalize(ctx: StageContext) -> dict[str, Any]:
    """Store the image and a thumbnail as the job's artifacts."""
    ctx.report(0.3, "Saving the image")
    raw = ctx.workdir / RAW_FILE
    if not raw.exists():
        raise PermanentError("the generated image is missing; workers must share ARTIFACTS_DIR")
    try:
        image = Image.open(raw)
        image.load()
    except (OSError, UnidentifiedImageError) as exc:
        raise PermanentError("the provider returned something that is not an image") from exc
    artifacts = [
        ctx.save_artifact("image.png", _png(image), "image/png"),
        ctx.save_artifact("thumbnail.png", _png(_thumbnail(image)), "image/png"),
    ]
    return {
        "artifacts": artifacts,
        "provider": ctx.outputs["generate"]["provider"],
        "prompt": ctx.outputs["prepare"]["prompt"],
        "width": image.width,
        "height": image.height,
    }


def _thumbnail(image: Image.Image) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    return copy


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


IMAGE_STAGES = (
    Stage(name="prepare", run=prepare, weight=1),
    Stage(name="generate", run=generate, weight=6),
    Stage(name="finalize", run=finalize, weight=1),
)
