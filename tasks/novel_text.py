"""Novel text: paragraphs, chapter headings (第X章, "Chapter N") and size-bounded parts.

Pure functions on strings, shared by the script pipeline's `split` stage and the
providers. Parts are described by offsets into the (normalized) novel, so a stage
output stays small and any worker can cut the same text again.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

CHINESE_HEADING = re.compile(
    r"^[ \t\u3000]*第[0-9０-９零〇一二三四五六七八九十百千万两]+[章回节卷集幕](?!的)"
    r"[ \t\u3000:：、.．]*[^\n。，！？；,]{0,30}$",
    re.MULTILINE,
)
"""A Chinese chapter heading on a line of its own: 第一章 雨夜, 第12回；not a sentence."""

ENGLISH_HEADING = re.compile(
    r"^[ \t]*(?i:chapter|part)[ \t]+(?i:[0-9]+|[ivxlcdm]+|one|two|three|four|five|six|seven"
    r"|eight|nine|ten|eleven|twelve)\b(?:[ \t]*[:.\-—–][^\n]{0,80}|[ \t]+[A-Z\"'“][^\n]{0,80})?$",
    re.MULTILINE,
)
"""An English chapter heading on a line of its own: Chapter 1, CHAPTER IV: The Storm, ..."""

TITLE_CHARS = 80
"""Text before the first heading up to this long, on one line, is the novel's title."""

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
"""Han characters: how we tell a Chinese novel from an English one."""


@dataclass(frozen=True, kw_only=True)
class Part:
    """One piece of the novel written in one chat call: a chapter, or a slice of one."""

    index: int
    title: str
    start: int
    end: int

    def text(self, novel: str) -> str:
        """This part's text, cut from the normalized novel."""
        return novel[self.start : self.end]

    def as_json(self) -> dict[str, Any]:
        """The part as a stage output stores it."""
        return asdict(self)


def normalize(text: str) -> str:
    """One newline style, no BOM, no trailing spaces: offsets mean the same everywhere."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[ \t]+\n", "\n", text).strip()


def language_of(text: str) -> str:
    """ "zh" when Han characters are a good share of the letters, else "en"."""
    sample = text[:20000]
    han = len(CJK.findall(sample))
    letters = sum(ch.isalpha() for ch in sample)
    return "zh" if letters and han / letters > 0.3 else "en"


def paragraphs(text: str) -> list[str]:
    """Paragraphs: blocks between blank lines (wrapped lines joined), or single lines."""
    text = text.strip()
    if re.search(r"\n[ \t\u3000]*\n", text):
        blocks = re.split(r"\n[ \t\u3000]*\n+", text)
        joiner = "" if language_of(text) == "zh" else " "
        items = [joiner.join(line.strip() for line in block.splitlines()) for block in blocks]
    else:
        items = [line.strip(" \t\u3000") for line in text.splitlines()]
    return [item for item in items if item]


def headings(text: str) -> list[tuple[int, str]]:
    """(offset, title) of every chapter heading, in order."""
    found = [(m.start(), m.group(0)) for m in CHINESE_HEADING.finditer(text)]
    found += [(m.start(), m.group(0)) for m in ENGLISH_HEADING.finditer(text)]
    return sorted((offset, title.strip(" \t\u3000")) for offset, title in found)


def split_parts(text: str, *, max_chars: int) -> list[Part]:
    """Chapters where the novel has headings, each cut to at most `max_chars` on paragraph ends."""
    marks = headings(text)
    sections: list[tuple[str, int, int]] = []
    first = marks[0][0] if marks else len(text)
    preamble = text[:first].strip()
    if marks and len(preamble) <= TITLE_CHARS and "\n" not in preamble:
        first = 0  # only a title line: it goes with the first chapter
    elif preamble:
        sections.append(("", 0, first))
    for number, (offset, title) in enumerate(marks):
        end = marks[number + 1][0] if number + 1 < len(marks) else len(text)
        sections.append((title, first if number == 0 else offset, end))
    parts: list[Part] = []
    for title, start, end in sections:
        pieces = list(_bounded(text, start, end, max_chars))
        for piece, (piece_start, piece_end) in enumerate(pieces):
            label = title or f"Part {len(parts) + 1}"
            if title and len(pieces) > 1:
                label = f"{label} ({piece + 1}/{len(pieces)})"
            parts.append(Part(index=len(parts), title=label, start=piece_start, end=piece_end))
    return parts


def _bounded(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut [start, end) into spans of at most max_chars, preferring paragraph then sentence ends."""
    spans = []
    while end - start > max_chars:
        window = text[start : start + max_chars]
        cut = max(window.rfind("\n"), 0)
        if cut < max_chars // 2:  # no paragraph end late enough: try a sentence end
            ends = [window.rfind(mark) for mark in ("。", "！", "？", ". ", "! ", "? ")]
            cut = max(ends) + 1 if max(ends) >= max_chars // 2 else max_chars
        spans.append((start, start + cut))
        start += cut
        while start < end and text[start].isspace():
            start += 1
    if text[start:end].strip():
        spans.append((start, end))
    return spans
