"""The screenplay a script job produces: its shape, tidying of provider replies, and Markdown.

screenplay.json  {title, logline, language, style, provider, characters: [{name,
                  description}], episodes: [{number, title, summary}], scenes: [{scene,
                  episode, part, heading, location, time, characters, action,
                  dialogue: [{character, line}]}]}
screenplay.md    the same, for people; every piece of novel text is escaped so no
                 Markdown renderer turns it into markup or HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LABELS = {
    "en": {"scene": "Scene {n}", "episode": "Episode {n}", "characters": "Characters",
           "cast": "Characters", "logline": "Logline", "untitled": "Untitled"},
    "zh": {"scene": "第{n}场", "episode": "第{n}集", "characters": "出场人物",
           "cast": "人物表", "logline": "故事梗概", "untitled": "无题"},
}  # fmt: skip
"""Headings of the Markdown in the screenplay's language (English for any other language)."""

UNATTRIBUTED = {"en": "VOICE", "zh": "某人"}
"""The speaker of a line nobody is named for: not a character."""

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
"""Characters escaped in novel text: CommonMark lets any ASCII punctuation be escaped."""


@dataclass(frozen=True, kw_only=True)
class ScriptBrief:
    """What the user asked for: style, the screenplay's language, how many episodes."""

    style: str | None
    language: str
    episodes: int


@dataclass(frozen=True, kw_only=True)
class PartText:
    """One part of the novel as a provider sees it."""

    index: int
    total: int
    title: str
    text: str


def labels(language: str) -> dict[str, str]:
    """The heading words for a language."""
    return LABELS["zh" if language.lower().startswith("zh") else "en"]


def _text(value: object, limit: int = 20000, *, lines: bool = False) -> str:
    """A tidy string: runs of spaces as one (and newlines too, unless `lines`)."""
    if value is None or isinstance(value, dict | list):
        return ""
    return re.sub(r"[ \t]+" if lines else r"\s+", " ", str(value)).strip()[:limit]


def clean_scene(raw: object) -> dict[str, Any] | None:
    """A scene with exactly the documented fields and types, or None if nothing is usable."""
    if not isinstance(raw, dict):
        return None
    dialogue = []
    for line in raw.get("dialogue") or []:
        if isinstance(line, dict) and _text(line.get("line")):
            speaker = _text(line.get("character"), 80) or "?"
            dialogue.append({"character": speaker, "line": _text(line.get("line"))})
    named = raw.get("characters")
    characters = [_text(name, 80) for name in named or [] if _text(name, 80)]
    if not isinstance(named, list):
        characters = []
    for line in dialogue:
        speaker = line["character"]
        if speaker not in ("?", *UNATTRIBUTED.values()) and speaker not in characters:
            characters.append(speaker)
    scene = {
        "location": _text(raw.get("location"), 120),
        "time": _text(raw.get("time"), 40),
        "characters": list(dict.fromkeys(characters)),
        "action": _text(raw.get("action"), lines=True),
        "dialogue": dialogue,
    }
    return scene if scene["action"] or dialogue else None


def clean_outline(raw: object, *, episodes: int, fallback_title: str) -> dict[str, Any]:
    """An outline with title, logline, characters and exactly `episodes` episode entries."""
    data = raw if isinstance(raw, dict) else {}
    characters = []
    for entry in data.get("characters") or []:
        if isinstance(entry, dict) and _text(entry.get("name"), 80):
            characters.append(
                {"name": _text(entry["name"], 80), "description": _text(entry.get("description"))}
            )
    given = {
        entry.get("number"): entry
        for entry in data.get("episodes") or []
        if isinstance(entry, dict) and isinstance(entry.get("number"), int)
    }
    plan = []
    for number in range(1, episodes + 1):
        entry = given.get(number) or {}
        plan.append(
            {
                "number": number,
                "title": _text(entry.get("title"), 200),
                "summary": _text(entry.get("summary"), 2000),
            }
        )
    return {
        "title": _text(data.get("title"), 200) or fallback_title,
        "logline": _text(data.get("logline"), 2000),
        "characters": characters[:50],
        "episodes": plan,
    }


def episode_of(part: int, scene_number: int, *, parts: int, scenes: int, episodes: int) -> int:
    """Episode of a scene: whole parts per episode when there are enough parts, else by scene."""
    if episodes <= parts:
        return part * episodes // parts + 1
    return (scene_number - 1) * min(episodes, scenes) // max(scenes, 1) + 1


def escape(text: str) -> str:
    """Novel text made inert in Markdown (and so in any HTML a renderer makes of it)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def render_markdown(play: dict[str, Any]) -> str:
    """The screenplay as Markdown."""
    words = labels(play["language"])
    lines = [f"# {escape(play['title'])}", ""]
    meta = [part for part in (play.get("style"), play.get("language")) if part]
    if meta:
        lines += [f"_{escape(' · '.join(meta))}_", ""]
    if play.get("logline"):
        lines += [f"## {words['logline']}", "", escape(play["logline"]), ""]
    if play["characters"]:
        lines += [f"## {words['cast']}", ""]
        for person in play["characters"]:
            about = f" — {escape(person['description'])}" if person["description"] else ""
            lines.append(f"- **{escape(person['name'])}**{about}")
        lines.append("")
    by_episode: dict[int, list[dict[str, Any]]] = {}
    for scene in play["scenes"]:
        by_episode.setdefault(scene["episode"], []).append(scene)
    for episode in play["episodes"]:
        if episode["number"] not in by_episode:
            continue
        name = words["episode"].format(n=episode["number"])
        title = f"{name}: {escape(episode['title'])}" if episode["title"] else name
        lines += [f"## {title}", ""]
        if episode["summary"]:
            lines += [f"_{escape(episode['summary'])}_", ""]
        for scene in by_episode[episode["number"]]:
            lines += _scene_markdown(scene, words)
    return "\n".join(lines).rstrip() + "\n"


def _scene_markdown(scene: dict[str, Any], words: dict[str, str]) -> list[str]:
    lines = [f"### {escape(scene['heading'])}", ""]
    if scene["characters"]:
        lines += [f"_{words['characters']}: {escape(', '.join(scene['characters']))}_", ""]
    for paragraph in scene["action"].split("\n"):
        if paragraph.strip():
            lines += [escape(paragraph.strip()), ""]
    for line in scene["dialogue"]:
        lines += [f"**{escape(line['character'])}:** {escape(line['line'])}", ""]
    return lines


def scene_heading(number: int, location: str, time: str, language: str) -> str:
    """ "Scene 3 — KITCHEN — NIGHT" / "第3场　客栈　夜"."""
    name = labels(language)["scene"].format(n=number)
    if language.lower().startswith("zh"):
        return "\u3000".join(part for part in (name, location, time) if part)
    return " — ".join(part for part in (name, location.upper(), time.upper()) if part)
