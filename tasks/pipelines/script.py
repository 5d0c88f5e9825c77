"""The script pipeline: split (chapters) -> outline (chat) -> write (chat per part) -> assemble.

`write` saves each part's scenes under the job's folder the moment they arrive,
so a retried `write` asks the provider only for the parts still missing. A part
the provider refuses (content policy, bad request) does not stop the others: the
stage fails naming it once the rest are written, and a retry redoes it alone.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from config import get_settings
from tasks.artifacts import write_atomic
from tasks.errors import ContentRejected, InvalidInput, PermanentError
from tasks.novel_text import Part, headings, language_of, normalize, split_parts
from tasks.pipelines import Stage
from tasks.screenplay import (
    PartText,
    ScriptBrief,
    clean_outline,
    clean_scene,
    episode_of,
    labels,
    render_markdown,
    scene_heading,
)

if TYPE_CHECKING:
    from pathlib import Path

    from tasks.context import StageContext

PARTS_DIR = "parts"
"""Where `write` keeps one JSON file of scenes per finished part."""

MAX_DEFAULT_EPISODES = 100
"""Without `episodes`, each chapter is an episode, up to this many."""

PER_PART_REFUSALS = (ContentRejected, InvalidInput)
"""Errors about one part's text: the other parts are still written."""


def split(ctx: StageContext) -> dict[str, Any]:
    """Cut the novel into chapters (or size-bounded chunks) and settle language and episodes."""
    novel = normalize(ctx.input["text"])
    parts = split_parts(novel, max_chars=get_settings().script_chunk_chars)
    if not parts:
        raise InvalidInput("input.text has no text to adapt")
    chaptered = bool(headings(novel))
    episodes = ctx.input.get("episodes") or (
        min(len(parts), MAX_DEFAULT_EPISODES) if chaptered else 1
    )
    ctx.report(1.0, f"Split into {len(parts)} part(s)")
    return {
        "parts": [part.as_json() for part in parts],
        "chapters": chaptered,
        "chars": len(novel),
        "language": ctx.input.get("language") or language_of(novel),
        "episodes": episodes,
    }


def outline(ctx: StageContext) -> dict[str, Any]:
    """Ask the provider for title, logline, characters and the episode plan."""
    brief = _brief(ctx)
    ctx.report(0.1, "Planning the screenplay")
    raw = ctx.call(ctx.provider.outline_script, _part_texts(ctx), brief)
    plan = clean_outline(
        raw, episodes=brief.episodes, fallback_title=labels(brief.language)["untitled"]
    )
    return {**plan, "provider": ctx.provider.name}


def write(ctx: StageContext) -> dict[str, Any]:
    """Write each part's scenes (one streamed chat call each), skipping parts already saved."""
    brief, parts = _brief(ctx), _part_texts(ctx)
    folder = ctx.workdir / PARTS_DIR
    folder.mkdir(exist_ok=True)
    pen = _WritingProgress(ctx, parts)
    refused: list[tuple[PartText, PermanentError]] = []
    for part in parts:
        path = _part_file(folder, part.index)
        if path.exists():
            pen.part_done()
            continue
        pen.start(part)
        try:
            raw = ctx.call(
                ctx.provider.write_scenes,
                part,
                outline=ctx.outputs["outline"],
                brief=brief,
                on_tokens=pen.add_tokens,
                while_waiting=pen.show,
            )
        except PER_PART_REFUSALS as exc:
            refused.append((part, exc))
            continue
        scenes = [scene for scene in map(clean_scene, raw) if scene is not None]
        payload = {"index": part.index, "title": part.title, "scenes": scenes}
        write_atomic(path, json.dumps(payload, ensure_ascii=False).encode())
        pen.part_done()
    if refused:
        raise _refusal(refused)
    return {"parts": len(parts), "tokens": pen.tokens_total, "provider": ctx.provider.name}


def assemble(ctx: StageContext) -> dict[str, Any]:
    """Number the scenes, place them in episodes, and save screenplay.md and screenplay.json."""
    ctx.report(0.2, "Assembling the screenplay")
    plan, meta = ctx.outputs["outline"], ctx.outputs["split"]
    parts = [Part(**raw) for raw in meta["parts"]]
    folder = ctx.workdir / PARTS_DIR
    written = []
    for part in parts:
        path = _part_file(folder, part.index)
        if not path.exists():
            raise PermanentError(
                f"part {part.index + 1} is missing; workers must share ARTIFACTS_DIR"
            )
        written.append(json.loads(path.read_text(encoding="utf-8")))
    total = sum(len(entry["scenes"]) for entry in written)
    scenes: list[dict[str, Any]] = []
    for entry in written:
        for scene in entry["scenes"]:
            number = len(scenes) + 1
            episode = episode_of(
                entry["index"], number, parts=len(parts), scenes=total, episodes=meta["episodes"]
            )
            heading = scene_heading(number, scene["location"], scene["time"], meta["language"])
            scenes.append({"scene": number, "episode": episode, "part": entry["index"] + 1,
                           "heading": heading, **scene})  # fmt: skip
    play = {
        "title": plan["title"],
        "logline": plan["logline"],
        "language": meta["language"],
        "style": ctx.input.get("style"),
        "provider": ctx.outputs["write"]["provider"],
        "characters": _cast(plan["characters"], scenes),
        "episodes": plan["episodes"],
        "scenes": scenes,
    }
    markdown = render_markdown(play).encode()
    document = json.dumps(play, ensure_ascii=False, indent=2).encode()
    return {
        "artifacts": [
            ctx.save_artifact("screenplay.md", markdown, "text/markdown"),
            ctx.save_artifact("screenplay.json", document, "application/json"),
        ],
        "provider": play["provider"],
        "title": play["title"],
        "language": play["language"],
        "episodes": len({scene["episode"] for scene in scenes}),
        "scenes": len(scenes),
        "characters": [person["name"] for person in play["characters"]],
    }


def estimated_run_s(job_input: dict[str, Any]) -> float:
    """Seconds a script job should take, from the novel's length and the provider in use."""
    chars = len(job_input.get("text") or "")
    settings = get_settings()
    parts = 1 + chars // settings.script_chunk_chars
    if settings.generation_provider == "local":
        return 2.0 + chars / 100_000
    # Outline, then per part a first-token wait plus the screenplay streamed at ~50 tokens/s;
    # a Han character is about a token, English about four characters a token.
    tokens = chars if language_of(job_input.get("text") or "") == "zh" else chars / 4
    return 15.0 + parts * 3.0 + tokens / 50


TOKEN_REPORT_INTERVAL_S = 1.0
"""How often `write` reports its token count within one part (part boundaries always report)."""


class _WritingProgress:
    """Progress of `write`: finished parts plus the share of the current part's tokens."""

    def __init__(self, ctx: StageContext, parts: list[PartText]) -> None:
        self.ctx, self.parts = ctx, parts
        self.done = 0
        self.tokens = self.tokens_total = 0
        self.expected = 1
        self.current: PartText | None = None
        self.shown: tuple[float, str] | None = None
        self.shown_at = 0.0

    def start(self, part: PartText) -> None:
        """A part's chat call begins."""
        self.current, self.tokens = part, 0
        # Roughly what the reply will be: about as long as the text it adapts.
        self.expected = max(
            50, len(part.text) if language_of(part.text) == "zh" else len(part.text) // 4
        )
        self.show()

    def add_tokens(self, count: int) -> None:
        """Called from the provider call's thread: only counts, never touches the database."""
        self.tokens += count
        self.tokens_total += count

    def part_done(self) -> None:
        """A part's scenes are saved."""
        self.done += 1
        self.current = None
        self.show()

    def show(self) -> None:
        """Report progress: at part boundaries always, token counts at most once a second."""
        counting = self.current is not None and self.tokens > 0
        if counting and time.monotonic() - self.shown_at < TOKEN_REPORT_INTERVAL_S:
            return  # each report is an event row, a commit and a publish
        share = min(0.95, self.tokens / self.expected) if self.current else 0.0
        fraction = min(1.0, (self.done + share) / len(self.parts))
        if self.current is None:
            message = f"Wrote {self.done} of {len(self.parts)} parts"
        else:
            number = self.current.index + 1
            message = f"Writing part {number} of {len(self.parts)}: {self.current.title}"
            if self.tokens:
                message += f" ({self.tokens} tokens)"
        if self.shown is None or self.shown[1] != message:
            self.shown, self.shown_at = (fraction, message), time.monotonic()
            self.ctx.report(fraction, message)


def _brief(ctx: StageContext) -> ScriptBrief:
    meta = ctx.outputs["split"]
    return ScriptBrief(
        style=ctx.input.get("style"), language=meta["language"], episodes=meta["episodes"]
    )


def _part_texts(ctx: StageContext) -> list[PartText]:
    novel = normalize(ctx.input["text"])
    parts = [Part(**raw) for raw in ctx.outputs["split"]["parts"]]
    return [
        PartText(index=p.index, total=len(parts), title=p.title, text=p.text(novel)) for p in parts
    ]


def _part_file(folder: Path, index: int) -> Path:
    return folder / f"part-{index + 1:04d}.json"


def _cast(planned: list[dict[str, str]], scenes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The outline's characters, then anyone else who appears in a scene."""
    cast = list(planned)
    known = {person["name"] for person in cast}
    for scene in scenes:
        for name in scene["characters"]:
            if name not in known:
                known.add(name)
                cast.append({"name": name, "description": ""})
    return cast


def _refusal(refused: list[tuple[PartText, PermanentError]]) -> PermanentError:
    part, first = refused[0]
    more = f"; {len(refused) - 1} more part(s) also refused" if len(refused) > 1 else ""
    return type(first)(
        f"part {part.index + 1} of {part.total} ({part.title}): {first.message}{more}"
    )


SCRIPT_STAGES = (
    Stage(name="split", run=split, weight=1),
    Stage(name="outline", run=outline, weight=2),
    Stage(name="write", run=write, weight=12),
    Stage(name="assemble", run=assemble, weight=1),
)
