"""The try-on pipeline: advice -> style -> tryon -> faceswap (seed 004).

    advice    chat: styling advice for wearing the garment to the occasion   advice.txt
    style     image edit: the garment restyled for the occasion              styled.png
    tryon     image edit with both images: the person wearing it             tryon_raw.png
    faceswap  image edit: the person's own face kept; stores the result      tryon.png

Inputs are the uploads named in the job's input (`human_image`, `garment_image`:
SHA-256 digests, see tasks/uploads.py), copied into the job's folder as
`person.png` and `garment.png` so the result can show before and after. Every
stage writes its output file before it returns and checks for it before a paid
call, so a retried or re-delivered stage never pays twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

from tasks.artifacts import png_bytes, write_atomic
from tasks.errors import PermanentError
from tasks.pipelines import Stage
from tasks.providers import Provider
from tasks.uploads import upload_path

if TYPE_CHECKING:
    from tasks.context import StageContext

PERSON_FILE = "person.png"
GARMENT_FILE = "garment.png"
ADVICE_FILE = "advice.txt"
STYLED_FILE = "styled.png"
RAW_FILE = "tryon_raw.png"
FINAL_FILE = "tryon.png"
THUMBNAIL_FILE = "thumbnail.png"

INPUT_FILES = {PERSON_FILE: "human_image", GARMENT_FILE: "garment_image"}
"""file in the job's folder -> the input field holding its upload's digest."""

THUMBNAIL_PX = 256
"""Longest side of the thumbnail artifact."""


def advice(ctx: StageContext) -> dict[str, Any]:
    """Ask for styling advice for the occasion, unless an earlier attempt already has it."""
    path = ctx.workdir / ADVICE_FILE
    if not path.exists():
        garment = _input_png(ctx, GARMENT_FILE)
        _input_png(ctx, PERSON_FILE)  # copied now: the result shows it as "before"
        ctx.report(0.1, "Asking for styling advice")
        text = ctx.call(ctx.provider.styling_advice, ctx.input["occasion"], garment)
        write_atomic(path, text.strip().encode())
    return {"text": path.read_text(encoding="utf-8")}


def style(ctx: StageContext) -> dict[str, Any]:
    """Restyle the garment for the occasion."""
    garment = _input_png(ctx, GARMENT_FILE)
    occasion, text = ctx.input["occasion"], ctx.outputs["advice"]["text"]
    return _image_step(
        ctx,
        STYLED_FILE,
        "Styling the garment for the occasion",
        lambda provider: provider.style_garment(garment, occasion=occasion, advice=text),
    )


def tryon(ctx: StageContext) -> dict[str, Any]:
    """Dress the person in the styled garment."""
    person = _input_png(ctx, PERSON_FILE)
    styled = _output_png(ctx, STYLED_FILE)
    occasion = ctx.input["occasion"]
    return _image_step(
        ctx,
        RAW_FILE,
        "Dressing the person in the garment",
        lambda provider: provider.try_on(person, styled, occasion=occasion),
    )


def faceswap(ctx: StageContext) -> dict[str, Any]:
    """Put the person's own face back, then describe the result and its intermediates."""
    person = _input_png(ctx, PERSON_FILE)
    raw = _output_png(ctx, RAW_FILE)
    _image_step(
        ctx,
        FINAL_FILE,
        "Keeping the person's face",
        lambda provider: provider.keep_face(raw, person),
    )
    ctx.report(0.9, "Saving the result")
    final = _open(ctx.workdir / FINAL_FILE)
    thumbnail = final.copy()
    thumbnail.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    artifacts = [
        _describe(ctx, FINAL_FILE),
        ctx.save_artifact(THUMBNAIL_FILE, png_bytes(thumbnail), "image/png"),
        _describe(ctx, STYLED_FILE),
        _describe(ctx, RAW_FILE),
        _describe(ctx, PERSON_FILE),
        _describe(ctx, GARMENT_FILE),
    ]
    return {
        "artifacts": artifacts,
        "text": ctx.outputs["advice"]["text"],
        "occasion": ctx.input["occasion"],
        "provider": ctx.provider.name,
        "width": final.width,
        "height": final.height,
    }


def _image_step(
    ctx: StageContext, output: str, message: str, request: Callable[[Provider], bytes]
) -> dict[str, Any]:
    """The one place a provider's image answer becomes a file of the job.

    Skips the paid call when the file is already there. The try-on calls are
    synchronous image edits with both providers we have; a provider that ran them as
    jobs on its side would return `AwaitProvider` from here and give these stages a
    `finish` that writes `output` (as the image pipeline's generate stage does).
    """
    path = ctx.workdir / output
    if not path.exists():
        ctx.report(0.1, message)
        png = ctx.call(request, ctx.provider)
        image = _open_bytes(png)  # refuse to store something that is not an image
        write_atomic(path, png if image.format == "PNG" else png_bytes(image))
    return {"file": output, "provider": ctx.provider.name}


def _input_png(ctx: StageContext, name: str) -> bytes:
    """An input image, copied from the shared uploads into the job's folder on first use."""
    path = ctx.workdir / name
    if not path.exists():
        source = upload_path(ctx.input[INPUT_FILES[name]])
        if not source.is_file():
            raise PermanentError(
                f"the uploaded {INPUT_FILES[name]} is missing; workers must share ARTIFACTS_DIR"
            )
        write_atomic(path, source.read_bytes())
    return path.read_bytes()


def _output_png(ctx: StageContext, name: str) -> bytes:
    path = ctx.workdir / name
    if not path.exists():
        raise PermanentError(f"{name} of an earlier stage is missing; workers must share files")
    return path.read_bytes()


def _describe(ctx: StageContext, name: str) -> dict[str, Any]:
    size = (ctx.workdir / name).stat().st_size
    return {"name": name, "content_type": "image/png", "size": size}


def _open(path: Path) -> Image.Image:
    return _open_bytes(path.read_bytes())


def _open_bytes(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, UnidentifiedImageError) as exc:
        raise PermanentError("the provider returned something that is not an image") from exc
    return image


TRYON_STAGES = (
    Stage(name="advice", run=advice, weight=1),
    Stage(name="style", run=style, weight=3),
    Stage(name="tryon", run=tryon, weight=4),
    Stage(name="faceswap", run=faceswap, weight=3),
)
