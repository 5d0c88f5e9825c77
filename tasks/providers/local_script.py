"""The offline screenplay: rule-based, deterministic, for Chinese and English novels.

Scenes come from paragraphs (a new scene at a scene-break line, a new place, or
after about SCENE_CHARS of text); dialogue comes from quoted speech (“…”, "…",
「…」, 『…』); a line's speaker is the name next to a speech verb (说/道/问…,
said/asked…) and a scene's characters are its speakers. It cannot translate:
`language` only chooses the headings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from tasks.novel_text import CHINESE_HEADING, ENGLISH_HEADING, language_of, paragraphs
from tasks.screenplay import UNATTRIBUTED as SOMEONE
from tasks.screenplay import PartText, ScriptBrief, episode_of

SCENE_CHARS = 900
"""A scene closes at the first paragraph end past this many characters."""

QUOTE = re.compile(
    r"“([^”]{1,4000})”|「([^」]{1,4000})」|『([^』]{1,4000})』|\"([^\"\n]{1,4000})\""
)
"""Quoted speech in the four styles novels use."""

SCENE_BREAK = re.compile(r"^\s*(?:(?:\*\s*){3,}|[-—–=~·]{3,}|#)\s*$")
"""A line that separates scenes: ***, * * *, ———, #."""

EN_VERBS = r"(?:said|asked|replied|answered|shouted|whispered|cried|called|muttered|added|yelled)"
EN_NAME = r"([A-Z][a-z]+(?: [A-Z][a-z]+)?)"
EN_NOT_NAMES = {"He", "She", "I", "They", "We", "You", "It", "The", "Then", "And", "But"}
EN_AFTER = re.compile(rf"^[,.!?]?\s*(?:{EN_VERBS}\s+{EN_NAME}|{EN_NAME}\s+{EN_VERBS}\b)")
EN_BEFORE = re.compile(rf"{EN_NAME}(?:\s+{EN_VERBS}(?:\s+\w+ly)?\s*[,:]?|\s*:)\s*$")

ZH_VERB = r"(?:说|道|问|喊|叫|答|嚷|吼|笑)[道着]?"
ZH_AFTER = re.compile(rf"^[，,]?\s*([\u4e00-\u9fff]{{1,4}}?)(?:[\u4e00-\u9fff]{{1,2}}地)?{ZH_VERB}")
ZH_BEFORE = re.compile(rf"([^。！？；\n”」』，,]{{1,16}}?)(?:{ZH_VERB}\s*[：:，,]?|\s*[：:])\s*$")
ZH_PRONOUNS = {"他", "她", "我", "你", "它", "他们", "她们", "我们", "你们", "对方", "那人", "众人"}
ZH_TAKES_OBJECT = re.compile(r"[从在把向对往朝跟和被将给]")
ZH_LEADING = re.compile(r"^(?:然后|于是|这时|接着|突然|忽然|只听|随即|便|又|也)+")
ZH_TRAILING = re.compile(
    r"(?:[\u4e00-\u9fff]{1,3}地|笑着|低声|大声|轻声|小声|忍不住|转过身|抬起头|又|也|便|就|才|却|还)+$"
)

EN_PLACES = (
    "room|kitchen|hall|house|street|garden|office|station|forest|castle|village|city|market|"
    "shop|inn|tavern|church|school|bar|cafe|car|train|ship|harbou?r|beach|field|road|bridge|"
    "palace|temple|library|hospital|apartment|bedroom|courtyard|yard|square|park|river|"
    "mountain|cave|lighthouse|cliff|restaurant|hotel|attic|cellar|study|parlou?r|porch|corridor"
)
EN_PLACE = re.compile(
    rf"\b(?:in|at|inside|into|outside|on|to)\s+(?:the|a|an|his|her|their|my)\s+"
    rf"((?:[a-z]+\s)?(?:{EN_PLACES}))\b",
    re.IGNORECASE,
)
ZH_PLACE = re.compile(
    r"(?:在|到了|来到|走进|进了|回到)([\u4e00-\u9fff]{1,6}?"
    r"(?:门口|楼|院|室|厅|店|馆|府|宫|殿|寺|庙|村|镇|城|街|路|桥|山|河|湖|海|站|家|房|屋))"
)
ZH_INSIDE = re.compile(r"在([\u4e00-\u9fff]{2,6}?)[里中内]")
TIMES = {
    "en": (("NIGHT", r"\b(?:night|midnight|dark)\b"), ("EVENING", r"\b(?:evening|dusk|sunset)\b"),
           ("MORNING", r"\b(?:morning|dawn|sunrise)\b")),
    "zh": (("夜", r"夜|晚上|深夜|半夜"), ("黄昏", r"黄昏|傍晚"),
           ("晨", r"清晨|早晨|早上|黎明|拂晓")),
}  # fmt: skip
DEFAULT_TIME = {"en": "DAY", "zh": "日"}
UNKNOWN_PLACE = {"en": "", "zh": ""}


def outline_script(parts: Sequence[PartText], brief: ScriptBrief) -> dict[str, Any]:
    """Title, logline, the characters who speak most, and an episode plan by chapter titles."""
    novel = "\n\n".join(part.text for part in parts)
    lang = language_of(novel)
    spoken: Counter[str] = Counter()
    for part in parts:
        for scene in write_scenes(part, on_tokens=lambda _: None):
            spoken.update(line["character"] for line in scene["dialogue"])
    spoken.pop(SOMEONE[lang], None)
    lines = "台词{n}句" if lang == "zh" else "speaks {n} lines"
    characters = [
        {"name": name, "description": lines.format(n=count)}
        for name, count in spoken.most_common(12)
    ]
    episodes = []
    for number in range(1, brief.episodes + 1):
        first = next(
            (
                p
                for p in parts
                if episode_of(p.index, 1, parts=len(parts), scenes=1, episodes=brief.episodes)
                == number
            ),
            None,
        )
        title = first.title if first and brief.episodes <= len(parts) else ""
        episodes.append({"number": number, "title": title, "summary": _first_sentence(first)})
    return {
        "title": _title(parts[0].text if parts else ""),
        "logline": _first_sentence(parts[0] if parts else None),
        "characters": characters,
        "episodes": episodes,
    }


def write_scenes(part: PartText, *, on_tokens: Callable[[int], None]) -> list[dict[str, Any]]:
    """The scenes of one part: paragraphs grouped by place and length, quotes as dialogue."""
    lang = language_of(part.text)
    scenes: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    title = _title(part.text) if part.index == 0 else None
    for paragraph in paragraphs(part.text):
        if _is_heading(paragraph) or paragraph == title:
            continue
        if SCENE_BREAK.match(paragraph):
            current = None
            continue
        place = _place(paragraph, lang)
        size = sum(len(text) for text in current["_text"]) if current else 0
        if current is None or size >= SCENE_CHARS or (place and place != current["location"]):
            current = {"location": place or (current or {}).get("location", UNKNOWN_PLACE[lang])}
            current |= {"time": "", "characters": [], "dialogue": [], "_action": [], "_text": []}
            scenes.append(current)
        current["_text"].append(paragraph)
        current["time"] = current["time"] or _time(paragraph, lang)
        _take_dialogue(paragraph, current, lang)
        on_tokens(max(1, len(paragraph) // (1 if lang == "zh" else 4)))
    return [_finish(scene, lang) for scene in scenes]


def _finish(scene: dict[str, Any], lang: str) -> dict[str, Any]:
    return {
        "location": scene["location"],
        "time": scene["time"] or DEFAULT_TIME[lang],
        "characters": scene["characters"],
        "action": "\n".join(scene["_action"]),
        "dialogue": scene["dialogue"],
    }


def _take_dialogue(paragraph: str, scene: dict[str, Any], lang: str) -> None:
    quotes = list(QUOTE.finditer(paragraph))
    if not quotes:
        scene["_action"].append(paragraph)
        return
    for number, match in enumerate(quotes):
        before = paragraph[quotes[number - 1].end() if number else 0 : match.start()]
        after = paragraph[
            match.end() : quotes[number + 1].start() if number + 1 < len(quotes) else None
        ]
        speaker = _speaker(before, after, lang)
        if speaker is None and number:  # speech resumed in the same paragraph
            speaker = scene["dialogue"][-1]["character"]
        speaker = speaker or _alternate(scene, lang)
        line = next(group for group in match.groups() if group is not None).strip()
        scene["dialogue"].append({"character": speaker, "line": line})
        if speaker != SOMEONE[lang] and speaker not in scene["characters"]:
            scene["characters"].append(speaker)


def _speaker(before: str, after: str, lang: str) -> str | None:
    if lang == "zh":
        found = ZH_AFTER.match(after)
        name = _zh_name(found.group(1)) if found else None
        if name is None and (found := ZH_BEFORE.search(before)):
            name = _zh_name(found.group(1))
            if name is None:  # 老周探出头来，冷冷地说： the subject is a clause earlier
                earlier = re.split(r"[。！？；，,\n”」』]", before[: found.start()].rstrip("，, "))
                name = _zh_name(earlier[-1]) if earlier[-1] else None
        return name
    for pattern, text in ((EN_AFTER, after), (EN_BEFORE, before)):
        found = pattern.search(text)
        name = next((g for g in found.groups() if g), None) if found else None
        if name and name.split()[0] not in EN_NOT_NAMES:
            return name
    return None


def _zh_name(candidate: str) -> str | None:
    name = ZH_LEADING.sub("", candidate.strip(" \u3000，,"))
    name = name.rsplit("的", 1)[-1]  # 掌柜的老周 -> 老周
    name = ZH_TAKES_OBJECT.split(name)[0]  # 沈默对她 -> 沈默
    name = ZH_TRAILING.sub("", name)
    if not re.fullmatch(r"[\u4e00-\u9fff]+", name) or name in ZH_PRONOUNS:
        return None
    return name[:3] if len(name) > 4 else name


def _alternate(scene: dict[str, Any], lang: str) -> str:
    """An unattributed line in a two-person exchange is the other person's."""
    last = scene["dialogue"][-1]["character"] if scene["dialogue"] else None
    others = [name for name in reversed(scene["characters"]) if name != last]
    return others[0] if others and last is not None else SOMEONE[lang]


def _place(paragraph: str, lang: str) -> str:
    if lang == "zh":
        found = ZH_PLACE.search(paragraph) or ZH_INSIDE.search(paragraph)
        return found.group(1) if found else ""
    found = EN_PLACE.search(QUOTE.sub("", paragraph))
    return found.group(1).lower() if found else ""


def _time(paragraph: str, lang: str) -> str:
    for label, pattern in TIMES[lang]:
        if re.search(pattern, paragraph, re.IGNORECASE):
            return label
    return ""


def _is_heading(paragraph: str) -> bool:
    return bool(CHINESE_HEADING.fullmatch(paragraph) or ENGLISH_HEADING.fullmatch(paragraph))


def _title(text: str) -> str:
    first = next(iter(paragraphs(text[:2000])), "")
    plain = not _is_heading(first) and not QUOTE.search(first)
    if first and len(first) <= 40 and plain:
        return first.strip("《》 ")
    return "无题" if language_of(text) == "zh" else "Untitled"


def _first_sentence(part: PartText | None) -> str:
    if part is None:
        return ""
    for paragraph in paragraphs(part.text):
        if not _is_heading(paragraph) and not QUOTE.search(paragraph) and len(paragraph) > 40:
            sentence = re.split(r"(?<=[。！？.!?])\s*", paragraph, maxsplit=1)[0]
            return sentence[:200]
    return ""
