"""Script side of ``tests.fake_openai``: deterministic JSON replies to the screenplay prompts.

Use as ``fake.chat_reply = screenplay_reply``. The outline prompt (its system message
asks for "episodes") gets a plan; a write prompt (asking for "scenes") gets one scene
per part whose action quotes the part's first line, so a test can tell which part
produced which scene. ``part_of(call)`` says which part a recorded request was for.
"""

from __future__ import annotations

import json
import re
from typing import Any

PART_LINE = re.compile(r"^Part (\d+) of (\d+): (.*)$", re.MULTILINE)
"""How the provider labels each part in its prompts."""


def _system(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content")) for m in messages if m.get("role") == "system"), "")


def _user(messages: list[dict[str, Any]]) -> str:
    return next((str(m.get("content")) for m in messages if m.get("role") == "user"), "")


def screenplay_reply(messages: list[dict[str, Any]]) -> str:
    """The reply the fake model gives to an outline or write prompt."""
    system, user = _system(messages), _user(messages)
    if '"episodes"' in system:
        count = int(re.search(r"Plan exactly (\d+) episodes", system).group(1))  # type: ignore[union-attr]
        return json.dumps(
            {
                "title": "FAKE TITLE",
                "logline": f"A story in {len(PART_LINE.findall(user))} parts.",
                "characters": [{"name": "Ada", "description": "the heroine"}],
                "episodes": [
                    {"number": n, "title": f"Episode title {n}", "summary": f"Summary {n}"}
                    for n in range(1, count + 1)
                ],
            }
        )
    number, total, title = PART_LINE.search(user).groups()  # type: ignore[union-attr]
    body = user.split("\n\n", 1)[-1].strip()
    first_line = next((line for line in body.splitlines() if line.strip()), "")
    scene = {
        "location": f"Place {number}",
        "time": "night",
        "characters": ["Ada"],
        "action": f"Part {number} of {total} begins: {first_line[:60]}",
        "dialogue": [
            {"character": "Ada", "line": f"This is part {number}."},
            {"character": "Bo", "line": "<b>not bold</b>"},
        ],
    }
    return json.dumps({"scenes": [scene]}, ensure_ascii=False)


def part_of(call: dict[str, Any]) -> int | None:
    """The part number a recorded chat request wrote (None for the outline request)."""
    body = call.get("json") or {}
    if '"episodes"' in _system(body.get("messages", [])):
        return None
    found = PART_LINE.search(_user(body.get("messages", [])))
    return int(found.group(1)) if found else None
