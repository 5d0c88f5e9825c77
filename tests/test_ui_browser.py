"""The web UI in a real browser (Debian's Chromium via Playwright) against the live stack.

Jobs run on the real in-process Celery worker with the offline `local` provider;
the last test swaps in a staged provider to show every state in the screenshot
saved to docs/screenshot-jobs.png.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect, sync_playwright

from tasks import runner
from tasks.errors import ContentRejected, ProviderUnavailable
from tasks.providers import ImageQuality
from tasks.providers.local import LocalProvider

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JOB_DONE_MS = 30_000
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot-jobs.png"

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing: run scripts/install_chromium.sh to enable the browser tests",
        allow_module_level=True,
    )

OpenPage = Callable[..., Page]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the module."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[OpenPage]:
    """Open a page in a fresh browser context (no shared storage); closed after the test."""
    contexts: list[BrowserContext] = []

    def open_(**options: Any) -> Page:
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: OpenPage) -> Page:
    """A desktop-sized page in its own context."""
    return open_page()


def sign_in(page: Page, base_url: str, key: str) -> None:
    """Open the UI and sign in with `key` through the form."""
    page.goto(base_url)
    page.get_by_test_id("api-key-input").fill(key)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("prompt")).to_be_visible()


def submit(page: Page, prompt: str) -> None:
    """Submit an image job from the form and wait until the API has taken it."""
    page.get_by_test_id("prompt").fill(prompt)
    page.get_by_test_id("submit-job").click()
    expect(page.get_by_test_id("prompt")).to_have_value("")  # cleared on 202 only


def job_cards(page: Page) -> Locator:
    """Every job card on the page, newest first."""
    return page.locator("[data-job-id]")


def wait_until_completed(cards: Locator, count: int) -> None:
    """Wait until `count` cards are there and all of them are completed."""
    expect(cards).to_have_count(count)
    for index in range(count):
        expect(cards.nth(index)).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)


def wait_for_thumbnail(page: Page, card: Locator) -> None:
    """Wait until the card's preview image has really loaded (decoded, non-zero size)."""
    image = card.get_by_test_id("thumbnail").element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image)


@pytest.mark.timeout(60)
def test_sign_in_rejects_a_bad_key_and_accepts_a_good_one(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """A wrong key shows an error and no form; the right key opens the form."""
    _, key = make_user("ui-signin")
    page.goto(live_server)
    page.get_by_test_id("api-key-input").fill("gj_not-a-real-key")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("signin-error")).to_contain_text("not accepted")
    expect(page.get_by_test_id("prompt")).to_be_hidden()

    page.get_by_test_id("api-key-input").fill(key)
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("prompt")).to_be_visible()
    expect(page.get_by_test_id("submit-job")).to_be_enabled()
    expect(page.get_by_test_id("api-key-input")).to_be_hidden()


@pytest.mark.timeout(60)
def test_submitted_jobs_complete_with_a_preview_and_a_download(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """Two jobs from the form run to completed, show thumbnails, and download as PNG."""
    _, key = make_user("ui-submit")
    sign_in(page, live_server, key)
    submit(page, "A red lighthouse on a cliff at dusk")
    submit(page, "A paper boat sailing across a sea of clouds")

    cards = job_cards(page)
    wait_until_completed(cards, 2)
    expect(cards.first).to_contain_text("paper boat")  # newest first
    for card in cards.all():
        wait_for_thumbnail(page, card)

    with page.expect_download() as download_info:
        cards.first.get_by_test_id("download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".png")
    assert Path(download.path()).read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.timeout(60)
def test_a_reload_shows_the_same_jobs_from_the_server(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """After a reload the same jobs are shown, completed, without signing in again."""
    _, key = make_user("ui-reload")
    sign_in(page, live_server, key)
    submit(page, "An isometric reading nook with plants")
    submit(page, "A neon city skyline in the rain")
    cards = job_cards(page)
    wait_until_completed(cards, 2)
    before = [card.get_attribute("data-job-id") for card in cards.all()]

    page.reload()
    expect(cards).to_have_count(2)
    assert [card.get_attribute("data-job-id") for card in cards.all()] == before
    for card in cards.all():
        expect(card).to_have_attribute("data-status", "completed")
        wait_for_thumbnail(page, card)


@pytest.mark.timeout(60)
def test_the_status_filter_shows_an_empty_state_then_everything_again(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """Filtering on failed empties the list (with a message); All brings the jobs back."""
    _, key = make_user("ui-filter")
    sign_in(page, live_server, key)
    submit(page, "A watercolour fox in the snow")
    cards = job_cards(page)
    wait_until_completed(cards, 1)
    empty = page.get_by_test_id("empty-state")
    expect(empty).to_be_hidden()

    page.get_by_test_id("filter-status").select_option("failed")
    expect(cards).to_have_count(0)
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("No failed jobs")

    page.get_by_test_id("filter-status").select_option("")
    wait_until_completed(cards, 1)
    expect(empty).to_be_hidden()


@pytest.mark.timeout(60)
def test_a_phone_sized_page_never_scrolls_sideways(
    open_page: OpenPage, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """At 390 px wide neither the sign-in nor the job list is wider than the screen."""
    _, key = make_user("ui-phone")
    page = open_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    scroll_width = "document.scrollingElement.scrollWidth"
    page.goto(live_server)
    assert page.evaluate(scroll_width) <= PHONE["width"]

    sign_in(page, live_server, key)
    submit(page, "A lighthouse " + "unbreakable" * 30)  # a long word must wrap, not overflow
    submit(page, "A small boat")
    wait_until_completed(job_cards(page), 2)
    assert page.evaluate(scroll_width) <= PHONE["width"]


SLOW_PROMPT = "A retro-futuristic city skyline at night, neon reflections in the rain"
REFUSED_PROMPT = "A famous cartoon mouse breaking into a bank vault"
FLAKY_PROMPT = "A paper boat sailing across a sea of clouds"


class StagedProvider(LocalProvider):
    """The offline provider, except that one prompt hangs, one is refused, one fails once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.failed_once = False

    def generate_image(self, prompt: str, *, size: str, quality: ImageQuality) -> bytes:
        """Act out the staged behaviour of `prompt` (refined: it starts with the original)."""
        if prompt.startswith(SLOW_PROMPT):
            self.release.wait(timeout=30)
        if prompt.startswith(REFUSED_PROMPT):
            raise ContentRejected("the provider's safety system refused this prompt")
        if prompt.startswith(FLAKY_PROMPT) and not self.failed_once:
            self.failed_once = True
            raise ProviderUnavailable("the provider answered 503; trying again")
        return super().generate_image(prompt, size=size, quality=quality)


@pytest.fixture
def staged_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[StagedProvider]:
    """Workers use a StagedProvider for this test; a hanging call is let go at the end."""
    provider = StagedProvider()
    monkeypatch.setattr(runner, "get_provider", lambda: provider)
    yield provider
    provider.release.set()


def submit_by_api(page: Page, base_url: str, key: str, **fields: str) -> None:
    """Submit an image job straight to the API (prompt, size, quality, priority)."""
    priority = fields.pop("priority", "default")
    answer = page.request.post(
        f"{base_url}/api/v1/jobs",
        data={"kind": "image", "input": fields, "priority": priority},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status == 202, answer.text()


@pytest.mark.timeout(60)
def test_an_api_error_shows_next_to_the_field_it_names(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """A standard user asking for high priority sees why under the priority choice."""
    _, key = make_user("ui-standard")
    sign_in(page, live_server, key)
    page.get_by_test_id("prompt").fill("A lighthouse")
    page.get_by_test_id("priority-high").check()
    page.get_by_test_id("submit-job").click()
    expect(page.locator("[data-field=priority] .field-error")).to_contain_text("standard tier")
    expect(page.get_by_test_id("prompt")).to_have_value("A lighthouse")  # kept for a retry
    expect(job_cards(page)).to_have_count(0)


@pytest.mark.timeout(60)
def test_load_more_pages_through_the_history(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """The list shows 20 jobs; Load more fetches the rest with next_cursor."""
    _, key = make_user("ui-pages")
    for number in range(23):
        submit_by_api(page, live_server, key, prompt=f"Tile number {number}", size="256x256")
    sign_in(page, live_server, key)
    cards = job_cards(page)
    expect(cards).to_have_count(20)
    expect(cards.first).to_contain_text("Tile number 22")
    page.get_by_test_id("load-more").click()
    wait_until_completed(cards, 23)
    expect(cards.last).to_contain_text("Tile number 0")
    expect(page.get_by_test_id("load-more")).to_be_hidden()


@pytest.mark.timeout(60)
def test_screenshot_of_the_jobs_page(
    page: Page,
    live_server: str,
    make_user: Callable[..., tuple[int, str]],
    staged_provider: StagedProvider,
) -> None:
    """Jobs in every state render; the page is saved as docs/screenshot-jobs.png."""
    _, key = make_user("ui-screenshot", "vip")
    jobs = [  # oldest first: the page shows them the other way round
        {"prompt": "A red lighthouse at dusk, watercolour", "size": "1536x1024", "quality": "high"},
        {"prompt": "A cozy isometric reading nook with plants", "priority": "low"},
        {"prompt": FLAKY_PROMPT, "size": "1024x1536", "quality": "medium"},
        {"prompt": REFUSED_PROMPT},
        {"prompt": SLOW_PROMPT, "quality": "high", "priority": "high"},
    ]
    for fields in jobs:
        submit_by_api(page, live_server, key, **fields)

    sign_in(page, live_server, key)
    cards = job_cards(page)
    expect(cards).to_have_count(len(jobs))
    expect(cards.nth(0)).to_have_attribute("data-status", "processing", timeout=JOB_DONE_MS)
    expect(cards.nth(0).locator(".stage-running")).to_have_text("generate")
    expect(cards.nth(1)).to_have_attribute("data-status", "failed", timeout=JOB_DONE_MS)
    expect(cards.nth(1)).to_contain_text("content_rejected")
    for index in (2, 3, 4):
        expect(cards.nth(index)).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
        wait_for_thumbnail(page, cards.nth(index))
    expect(cards.nth(2).locator(".stage-tries")).to_have_text("×2")

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True, animations="disabled")
    assert SCREENSHOT.read_bytes().startswith(PNG_SIGNATURE)
