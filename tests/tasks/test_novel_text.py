"""Cutting novels into parts: chapter headings in Chinese and English, bounded chunks."""

from __future__ import annotations

import pytest

from tasks.novel_text import headings, language_of, normalize, paragraphs, split_parts


@pytest.mark.parametrize(
    ("line", "is_heading"),
    [
        ("第一章 雨夜来客", True),
        ("第十二章：桥", True),
        ("　　第3回", True),
        ("第一章雨夜", True),
        ("第一章的正文，阿达走在路上。", False),
        ("他翻到第一章，读了起来。", False),
        ("Chapter 1", True),
        ("CHAPTER IV: The Storm", True),
        ("Chapter Two The Wreck", True),
        ("Part 3", True),
        ("Chapter 1 was the best part of the book.", False),
        ("The chapter ended.", False),
    ],
)
def test_chapter_headings_stand_on_their_own_line(line: str, is_heading: bool) -> None:
    assert bool(headings(f"before\n{line}\nafter")) is is_heading


def test_chapters_keep_their_titles_and_a_title_line_joins_the_first() -> None:
    novel = normalize("\ufeff我的小说\r\n\r\n第一章 开始\r\n正文一。\r\n第二章 结束\r\n正文二。")
    parts = split_parts(novel, max_chars=1000)
    assert [p.title for p in parts] == ["第一章 开始", "第二章 结束"]
    assert parts[0].text(novel).startswith("我的小说") and parts[1].text(novel).endswith("正文二。")


def test_a_long_prologue_is_a_part_of_its_own() -> None:
    novel = "A long prologue line.\nAnd another one.\n\nChapter 1\n\nThe story."
    assert [p.title for p in split_parts(novel, max_chars=1000)] == ["Part 1", "Chapter 1"]


def test_long_chapters_are_cut_at_paragraph_then_sentence_ends() -> None:
    chapter = "第一章 长\n" + "\n".join("这是一个很长的段落。" * 8 for _ in range(10))
    parts = split_parts(chapter, max_chars=200)
    assert all(len(p.text(chapter)) <= 200 for p in parts)
    assert all(p.text(chapter).endswith("。") for p in parts)
    assert parts[0].title == "第一章 长 (1/" + str(len(parts)) + ")"
    assert "".join(p.text(chapter) for p in parts).replace("\n", "") == chapter.replace("\n", "")
    one_line = "No paragraph ends here. " * 40
    pieces = split_parts(one_line.strip(), max_chars=100)
    assert all(len(p.text(one_line)) <= 100 for p in pieces) and len(pieces) >= 9


def test_paragraphs_and_language() -> None:
    english = "Wrapped line one\nand its end.\n\nSecond paragraph."
    assert paragraphs(english) == ["Wrapped line one and its end.", "Second paragraph."]
    assert paragraphs("　　第一段。\n　　第二段。") == ["第一段。", "第二段。"]
    assert (language_of("他说：“你好。”"), language_of("He said hello.")) == ("zh", "en")
