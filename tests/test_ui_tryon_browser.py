"""The try-on form and result in a real browser (Chromium via Playwright), local provider.

UPDATE_SCREENSHOT=1 saves the completed result as docs/screenshot-tryon.png.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import test_ui_browser
from tests.test_ui_browser import JOB_DONE_MS, PNG_SIGNATURE, job_cards, sign_in
from tests.tryon_images import encode, garment, portrait

browser = test_ui_browser.browser
open_page = test_ui_browser.open_page
page = test_ui_browser.page
"""The browser fixtures (one Chromium per module, a fresh context per test), shared."""

README_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot-tryon.png"
"""Refreshed only with UPDATE_SCREENSHOT=1, so a test run leaves the tree clean."""

LOADED = "img => img.complete && img.naturalWidth > 0"


def choose_photos(page: Page, person: bytes, garment_photo: bytes) -> None:
    """Pick both files in the try-on form; each shows a preview."""
    page.get_by_test_id("tab-tryon").click()
    files = {"human_image": ("me.jpg", "image/jpeg", person)}
    files["garment_image"] = ("dress.png", "image/png", garment_photo)
    for field, (name, mime, data) in files.items():
        page.get_by_test_id(field).set_input_files({"name": name, "mimeType": mime, "buffer": data})
        preview = page.locator(f"[data-field={field}] [data-preview]")
        expect(preview).to_be_visible()
        page.wait_for_function(LOADED, arg=preview.element_handle())


@pytest.mark.timeout(90)
def test_a_tryon_job_from_the_form_shows_before_after_advice_and_steps(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    """Two photos and an occasion in; the card shows both photos, the advice and each step."""
    _, key = make_user("ui-tryon")
    sign_in(page, live_server, key)
    choose_photos(page, encode(portrait(360, 480), "JPEG"), encode(garment(240, 300)))
    page.get_by_test_id("occasion").fill("a summer wedding in the garden")
    page.get_by_test_id("submit-tryon").click()
    expect(page.locator("#tryon-form-status")).to_contain_text("Submitted job")
    expect(page.get_by_test_id("occasion")).to_have_value("")  # cleared on 202 only

    card = job_cards(page).first
    expect(card).to_contain_text("Try-on for a summer wedding in the garden")
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    expect(card.get_by_test_id("tryon-advice")).to_contain_text("summer wedding")
    names = ["before", "after", "step-garment", "step-styled", "step-tryon_raw", "step-tryon"]
    for name in names:
        image = card.get_by_test_id(f"tryon-{name}")
        image.scroll_into_view_if_needed()
        page.wait_for_function(LOADED, arg=image.element_handle())
    with page.expect_download() as download_info:
        card.get_by_test_id("download").click()
    assert download_info.value.suggested_filename.endswith("tryon.png")
    assert Path(download_info.value.path()).read_bytes().startswith(PNG_SIGNATURE)

    shot = README_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "t.png"
    page.screenshot(path=str(shot), full_page=True, animations="disabled")
    assert shot.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.timeout(60)
def test_a_file_that_is_not_an_image_is_refused_under_its_field(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """The API's 422 names garment_image; the form shows it there and keeps the photos."""
    _, key = make_user("ui-tryon-bad")
    sign_in(page, live_server, key)
    page.get_by_test_id("tab-tryon").click()
    page.get_by_test_id("submit-tryon").click()  # nothing chosen: checked in the page
    expect(page.locator("[data-field=occasion] .field-error")).to_have_text(
        "Say what the outfit is for."
    )

    person = {"name": "me.png", "mimeType": "image/png", "buffer": encode(portrait())}
    page.get_by_test_id("human_image").set_input_files(person)
    text = {"name": "dress.png", "mimeType": "image/png", "buffer": b"not a picture at all"}
    page.get_by_test_id("garment_image").set_input_files(text)
    page.get_by_test_id("occasion").fill("an office party")
    page.get_by_test_id("submit-tryon").click()
    expect(page.locator("[data-field=garment_image] .field-error")).to_have_text(
        "not a PNG, JPEG or WebP image"
    )
    expect(page.get_by_test_id("occasion")).to_have_value("an office party")
    expect(job_cards(page)).to_have_count(0)
