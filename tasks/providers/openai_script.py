"""Screenplays through OpenAI chat: one outline call, then one streamed call per novel part.

Both ask for a JSON object (`response_format=json_object`). The write call streams,
and every content delta (about one token) is counted through `on_tokens`, so the
stage's progress moves while the model writes. Errors are translated to
`tasks.errors` here, including the ones raised while the stream is being read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpx
import openai

from tasks.errors import ProviderTimeout, ProviderUnavailable
from tasks.providers.openai_provider import translate_errors
from tasks.screenplay import PartText, ScriptBrief

OUTLINE_EXCERPT_CHARS = 1500
"""How much of each part the outline call sees (the whole novel may not fit a context)."""

OUTLINE_TOTAL_CHARS = 40000
"""The most novel text one outline call carries in all."""

OUTLINE_INSTRUCTIONS = """You adapt novels into screenplays for short drama series.
Read the parts of the novel below and plan the adaptation. Answer with one JSON object:
{"title": string, "logline": string, "characters": [{"name": string, "description": string}],
 "episodes": [{"number": integer, "title": string, "summary": string}]}
Plan exactly {episodes} episodes, numbered from 1. Write in language: {language}.{style}"""

WRITE_INSTRUCTIONS = """You adapt novels into screenplays for short drama series.
Turn the part of the novel below into screenplay scenes. Answer with one JSON object:
{"scenes": [{"location": string, "time": string, "characters": [string],
 "action": string, "dialogue": [{"character": string, "line": string}]}]}
Keep the story's events in order; keep the characters' names as in this list: {names}.
Write in language: {language}.{style}"""


def _style(brief: ScriptBrief) -> str:
    return f" Style: {brief.style}." if brief.style else ""


def outline_script(
    client: openai.OpenAI, model: str, parts: Sequence[PartText], brief: ScriptBrief
) -> dict[str, Any]:
    """One chat call for title, logline, characters and the episode plan."""
    budget = max(200, min(OUTLINE_EXCERPT_CHARS, OUTLINE_TOTAL_CHARS // max(len(parts), 1)))
    excerpts = "\n\n".join(
        f"Part {part.index + 1} of {part.total}: {part.title}\n{part.text[:budget]}"
        for part in parts
    )
    system = (
        OUTLINE_INSTRUCTIONS.replace("{episodes}", str(brief.episodes))
        .replace("{language}", brief.language)
        .replace("{style}", _style(brief))
    )
    with translate_errors(), translate_stream_errors():
        response = client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": excerpts}],
            response_format={"type": "json_object"},
        )
    content = response.choices[0].message.content if response.choices else None
    return parse_json_object(content or "")


def write_scenes(
    client: openai.OpenAI,
    model: str,
    part: PartText,
    *,
    outline: dict[str, Any],
    brief: ScriptBrief,
    on_tokens: Callable[[int], None],
) -> list[dict[str, Any]]:
    """One streamed chat call turning a part into scenes; `on_tokens(n)` as deltas arrive."""
    names = ", ".join(person["name"] for person in outline.get("characters", [])) or "(none yet)"
    system = (
        WRITE_INSTRUCTIONS.replace("{names}", names)
        .replace("{language}", brief.language)
        .replace("{style}", _style(brief))
    )
    user = f"Part {part.index + 1} of {part.total}: {part.title}\n\n{part.text}"
    pieces: list[str] = []
    with translate_errors(), translate_stream_errors():
        stream = client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
            response_format={"type": "json_object"},
            stream=True,
        )
        for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                pieces.append(delta)
                on_tokens(1)
    scenes = parse_json_object("".join(pieces)).get("scenes")
    if not isinstance(scenes, list):
        raise ProviderUnavailable("the provider's reply had no scenes; asking again")
    return scenes


def parse_json_object(content: str) -> dict[str, Any]:
    """The JSON object in a reply (tolerating a ```json fence); a new sample may do better."""
    text = re.sub(r"^\s*```(?:json)?\s*|\s*```\s*$", "", content)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise ProviderUnavailable("the provider's reply was not the JSON asked for; asking again")
    return value


@contextmanager
def translate_stream_errors() -> Iterator[None]:
    """Transport failures while a stream is read surface as httpx errors, not openai ones."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise ProviderTimeout("the provider stopped sending in time") from exc
    except httpx.TransportError as exc:
        raise ProviderUnavailable("the provider's stream broke off") from exc
