"""The script form and the screenplay reader in a real browser (Chromium via Playwright).

Jobs run on the in-process Celery worker with the offline `local` provider. Shares
the browser fixtures of tests/test_ui_browser.py (skipped there when Chromium is missing).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.test_ui_browser import JOB_DONE_MS, browser, open_page, page, sign_in

__all__ = ["browser", "open_page", "page"]  # fixtures, used by name

DATA = Path(__file__).resolve().parent / "data"
HOSTILE = (
    "A note was pinned to the door: <img src=x onerror=window.pwned=1> and "
    "<script>window.pwned=2</script> and **not bold** and [a link](javascript:alert(1)).\n\n"
    '"<b>Open up</b>," said Tom.\n'
)
SCREENSHOT = os.environ.get("SCRIPT_UI_SCREENSHOT")
"""Where to save a screenshot of the reader, and of the page as `<stem>-page.png` (unset:
temporary files)."""


@pytest.mark.timeout(90)
def test_a_novel_upload_becomes_a_screenplay_shown_as_text_only(
    page: Page,
    live_server: str,
    make_user: Callable[..., tuple[int, str]],
    tmp_path: Path,
) -> None:
    """Upload a .txt with markup in it; the reader shows that markup as plain text."""
    _, key = make_user("ui-script")
    sign_in(page, live_server, key)
    page.get_by_test_id("tab-script").click()

    page.get_by_test_id("submit-script").click()  # nothing to adapt yet
    expect(page.locator("#novel-error")).to_have_text("Paste the novel or choose a .txt file.")

    novel = tmp_path / "lighthouse.txt"
    novel.write_text((DATA / "novel_en.txt").read_text(encoding="utf-8") + "\n" + HOSTILE)
    page.get_by_test_id("novel-file").set_input_files(str(novel))
    expect(page.get_by_test_id("novel-file-name")).to_contain_text("lighthouse.txt")
    page.get_by_test_id("script-style").fill("noir")
    page.get_by_test_id("script-episodes").fill("0")
    page.get_by_test_id("submit-script").click()
    expect(page.locator("#script-episodes-error")).to_contain_text("greater than or equal to 1")

    page.get_by_test_id("script-episodes").fill("2")
    page.get_by_test_id("submit-script").click()
    expect(page.get_by_test_id("script-form-status")).to_contain_text("Submitted job")
    card = page.locator("[data-job-id]").first
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    expect(card.get_by_test_id("rerun")).to_be_hidden()  # the job JSON has only an excerpt
    expect(card.locator("[data-ref=result]")).to_contain_text("The Lighthouse Keeper")
    expect(card.locator("[data-ref=result]")).to_contain_text("2 episodes")

    shot = Path(SCREENSHOT) if SCREENSHOT else tmp_path / "screenplay.png"
    page.screenshot(path=str(shot.with_stem(f"{shot.stem}-page")), animations="disabled")
    card.get_by_test_id("read-screenplay").click()
    reader = page.get_by_test_id("screenplay-body")
    expect(reader.locator("h2")).to_have_text("The Lighthouse Keeper")
    expect(reader.locator("h3").nth(1)).to_have_text("Characters")
    expect(reader.locator("h4").first).to_have_text("Scene 1 — EVENING")
    expect(reader.locator(".sp-line").first).to_have_text("Tom: Is the lamp lit?")
    expect(reader).to_contain_text("<img src=x onerror=window.pwned=1>")
    expect(reader).to_contain_text("<script>window.pwned=2</script> and **not bold** and [a")
    expect(reader).to_contain_text("Tom: <b>Open up</b>,")
    assert reader.locator("img, script, b, a").count() == 0
    assert page.evaluate("window.pwned") is None
    page.screenshot(path=str(shot), animations="disabled")

    for test_id, starts in (("screenplay-download-md", b"# The Lighthouse Keeper\n"),
                            ("screenplay-download-json", b"{")):  # fmt: skip
        href = page.get_by_test_id(test_id).get_attribute("href")
        assert href and href.endswith("?download=1")
        download = page.request.get(live_server + href)
        assert download.status == 200 and download.body().startswith(starts)


@pytest.mark.timeout(90)
def test_a_pasted_chinese_chapter_becomes_a_screenplay(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """Paste Chinese text into the form (a JSON submit); the reader shows 第1场 and speakers."""
    _, key = make_user("ui-script-zh")
    sign_in(page, live_server, key)
    page.get_by_test_id("tab-script").click()
    page.get_by_test_id("novel-text").fill((DATA / "novel_zh.txt").read_text(encoding="utf-8"))
    page.get_by_test_id("script-language").select_option("zh")
    page.get_by_test_id("submit-script").click()
    expect(page.get_by_test_id("novel-text")).to_have_value("")  # cleared on 202 only

    card = page.locator("[data-job-id]").first
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    expect(card.locator("[data-ref=prompt]")).to_contain_text("青石镇旧事")
    expect(card.get_by_test_id("rerun")).to_be_visible()  # short: the whole text came back
    card.get_by_test_id("read-screenplay").click()
    reader = page.get_by_test_id("screenplay-body")
    expect(reader.locator("h4").first).to_contain_text("第1场")
    expect(reader.locator(".sp-line").first).to_have_text("年轻人: 还有空房吗？")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("screenplay-viewer")).to_be_hidden()
