"""The image pipeline: prepare (refine the prompt) -> generate -> finalize (PNG + thumbnail)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from tasks.artifacts import png_bytes, write_atomic
from tasks.errors import PermanentError
from tasks.pipelines import AwaitProvider, Stage, StageOutcome

if TYPE_CHECKING:
    from tasks.context import StageContext
    from tasks.providers import ProviderJobStatus

RAW_FILE = "generated.png"
"""What the generate stage leaves for finalize; its presence means no second paid call."""

THUMBNAIL_PX = 256
"""Longest side of the thumbnail artifact."""


def prepare(ctx: StageContext) -> dict[str, Any]:
    """Check the prompt and let the provider refine it."""
    ctx.report(0.2, "Refining the prompt")
    refined = ctx.call(ctx.provider.refine_prompt, ctx.input["prompt"])
    return {"prompt": refined}


def generate(ctx: StageContext) -> StageOutcome:
    """Generate the image, unless an earlier attempt already did.

    A provider that runs images as jobs on its side gets the job started here, and
    `generate_finished` stores the image once the provider has it.
    """
    raw = ctx.workdir / RAW_FILE
    if not raw.exists():
        ctx.report(0.1, "Generating the image")
        prompt = ctx.outputs["prepare"]["prompt"]
        size, quality = ctx.input.get("size", "1024x1024"), ctx.input.get("quality", "auto")
        job = ctx.call(ctx.provider.submit_image, prompt, size=size, quality=quality)
        if job is not None:
            return AwaitProvider(job=job)
        write_atomic(raw, ctx.call(ctx.provider.generate_image, prompt, size=size, quality=quality))
    return {"file": RAW_FILE, "provider": ctx.provider.name}


def generate_finished(ctx: StageContext, status: ProviderJobStatus) -> dict[str, Any]:
    """Store the image a provider job made."""
    if not status.data:
        raise PermanentError("the provider's job finished without an image")
    write_atomic(ctx.workdir / RAW_FILE, status.data)
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
        ctx.save_artifact("image.png", png_bytes(image), "image/png"),
        ctx.save_artifact("thumbnail.png", png_bytes(_thumbnail(image)), "image/png"),
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


IMAGE_STAGES = (
    Stage(name="prepare", run=prepare, weight=1),
    Stage(name="generate", run=generate, finish=generate_finished, weight=6),
    Stage(name="finalize", run=finalize, weight=1),
)
