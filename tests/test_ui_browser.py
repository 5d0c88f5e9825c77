"""The web UI in a real browser (Debian's Chromium via Playwright) against the live stack.

Jobs run on the real in-process Celery worker with the offline `local` provider,
or with `fake_provider` where a job must take a while; the last test swaps in a
staged provider to show every state in the screenshot saved to docs/screenshot-jobs.png.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Request,
    expect,
    sync_playwright,
)
from sqlalchemy import text, update

from tasks import eta, runner
from tasks.db import db
from tasks.errors import ContentRejected, ProviderUnavailable
from tasks.models import Job, User
from tasks.providers import ImageQuality
from tasks.providers.local import LocalProvider
from tests.fake_openai import FakeOpenAI

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
README_SCREENSHOT = Path(__file__).resolve().parents[1] / "docs" / "screenshot-jobs.png"
"""Refreshed only with UPDATE_SCREENSHOT=1, so a test run leaves the tree clean."""

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
    """Open a page in a fresh browser context (no shared storage); closed after the test.

    An uncaught error in the page's JavaScript fails the test.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_(**options: Any) -> Page:
        context = browser.new_context(**{"viewport": DESKTOP, **options})
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


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

    cards.first.get_by_test_id("thumbnail").click()
    viewer = page.get_by_role("dialog")
    expect(viewer).to_contain_text("paper boat")
    full_image = viewer.get_by_role("img").element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=full_image)
    with page.expect_download() as download_info:
        viewer.get_by_test_id("viewer-download").click()
    assert Path(download_info.value.path()).read_bytes().startswith(PNG_SIGNATURE)
    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()


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


def job_requests(page: Page) -> list[str]:
    """Record "METHOD /path" of every request the page makes from now on."""
    seen: list[str] = []

    def record(request: Request) -> None:
        seen.append(f"{request.method} {urlsplit(request.url).path}")

    page.on("request", record)
    return seen


COUNT_STREAMS = """
(() => {
  const Native = window.EventSource;
  const streams = (window.openStreams = { now: 0, most: 0 });
  window.EventSource = class extends Native {
    constructor(...args) {
      super(...args);
      streams.most = Math.max(streams.most, ++streams.now);
    }
    close() {
      if (!this.wasClosed) streams.now--;
      this.wasClosed = true;
      super.close();
    }
  };
})();
"""
"""An init script that counts the EventSources open at once (window.openStreams)."""


@pytest.mark.timeout(60)
def test_live_updates_come_over_the_event_stream_not_by_polling(
    page: Page,
    live_server: str,
    make_user: Callable[..., tuple[int, str]],
    fake_provider: FakeOpenAI,
) -> None:
    """A slow job moves through its stages on the stream; its JSON is read once, at the end."""
    fake_provider.set_delay("images/generations", 2)
    _, key = make_user("ui-stream")
    sign_in(page, live_server, key)
    requests = job_requests(page)
    submit(page, "A lighthouse keeper's cat watching the storm")

    card = job_cards(page).first
    expect(card.locator(".stage-running")).to_have_text("generate", timeout=JOB_DONE_MS)
    expect(card.locator(".stage-completed")).to_have_text(re.compile("prepare"))
    job_id = card.get_attribute("data-job-id")
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    wait_for_thumbnail(page, card)

    assert f"GET /api/v1/jobs/{job_id}/events" in requests
    assert requests.count(f"GET /api/v1/jobs/{job_id}") == 1, requests  # the final read only


@pytest.mark.timeout(60)
def test_jobs_still_complete_when_event_streams_are_blocked(
    page: Page,
    live_server: str,
    make_user: Callable[..., tuple[int, str]],
    fake_provider: FakeOpenAI,
) -> None:
    """With every stream refused (a proxy that buffers, say), the page falls back to polling."""
    fake_provider.set_delay("images/generations", 2)
    page.route("**/events*", lambda route: route.abort())
    _, key = make_user("ui-no-stream")
    sign_in(page, live_server, key)
    requests = job_requests(page)
    submit(page, "A submarine made of stained glass")

    card = job_cards(page).first
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    wait_for_thumbnail(page, card)
    job_id = card.get_attribute("data-job-id")
    assert f"GET /api/v1/jobs/{job_id}/events" in requests
    assert f"GET /api/v1/jobs/{job_id}" in requests  # polled instead


@pytest.mark.timeout(60)
def test_cancel_then_retry_then_rerun_from_the_card(
    page: Page,
    live_server: str,
    make_user: Callable[..., tuple[int, str]],
    fake_provider: FakeOpenAI,
) -> None:
    """Cancel stops a running job at once; Retry resumes it; Re-run submits a copy."""
    fake_provider.set_delay("images/generations", 2.5)  # under its 3 s timeout
    _, key = make_user("ui-cancel")
    sign_in(page, live_server, key)
    submit(page, "A clockwork hummingbird")
    card = job_cards(page).first
    job_id = card.get_attribute("data-job-id")
    card = page.locator(f'[data-job-id="{job_id}"]')  # stays on this job when others come
    expect(card.locator(".stage-running")).to_have_text("generate", timeout=JOB_DONE_MS)

    card.get_by_test_id("cancel").click()
    expect(card).to_have_attribute("data-status", "canceled", timeout=3_000)
    expect(card.get_by_test_id("cancel")).to_be_hidden()

    fake_provider.set_delay("images/generations", 0)
    card.get_by_test_id("retry").click()
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    wait_for_thumbnail(page, card)
    expect(card.get_by_test_id("retry")).to_be_hidden()
    expect(card.locator(".stage-completed")).to_have_count(3)

    card.get_by_test_id("rerun").click()
    cards = job_cards(page)
    wait_until_completed(cards, 2)
    expect(cards.first).to_contain_text("A clockwork hummingbird")
    assert cards.first.get_attribute("data-job-id") != job_id


def set_tier(app: Any, user_id: int, tier: str) -> None:
    """Change a user's tier, as an operator would."""
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(tier=tier))
        db.session.commit()


@pytest.mark.timeout(60)
def test_only_vip_accounts_are_offered_high_priority(
    open_page: OpenPage, live_server: str, make_user: Callable[..., tuple[int, str]]
) -> None:
    """The header names the account and its tier; High priority is offered to VIPs only."""
    _, standard_key = make_user("ui-standard")
    _, vip_key = make_user("ui-vip", "vip")
    high = re.compile("^High")

    standard = open_page()
    sign_in(standard, live_server, standard_key)
    expect(standard.get_by_test_id("session-user")).to_have_text(
        re.compile(r"ui-standard\s+standard")
    )
    expect(standard.get_by_role("radio", name=high)).to_have_count(0)
    expect(standard.get_by_role("radio", name="Default")).to_be_checked()
    expect(standard.get_by_role("radio", name="Low")).to_be_visible()

    vip = open_page()
    sign_in(vip, live_server, vip_key)
    expect(vip.get_by_test_id("session-user")).to_have_text(re.compile(r"ui-vip\s+VIP"))
    vip.get_by_role("radio", name=high).check()
    submit(vip, "A golden ticket")
    card = job_cards(vip).first
    expect(card).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    expect(card).to_contain_text("high priority")


@pytest.mark.timeout(60)
def test_an_api_error_shows_next_to_the_field_it_names(
    page: Page, live_server: str, make_user: Callable[..., tuple[int, str]], app: Any
) -> None:
    """A VIP demoted after signing in, still asking for high priority, sees why there."""
    user_id, key = make_user("ui-demoted", "vip")
    sign_in(page, live_server, key)
    set_tier(app, user_id, "standard")
    page.get_by_test_id("prompt").fill("A lighthouse")
    page.get_by_test_id("priority-high").check()
    page.get_by_test_id("submit-job").click()
    expect(page.locator("[data-field=priority] .field-error")).to_contain_text("standard tier")
    expect(page.get_by_test_id("prompt")).to_have_value("A lighthouse")  # kept for a retry
    expect(job_cards(page)).to_have_count(0)


@pytest.mark.timeout(60)
def test_many_jobs_at_once_all_complete_with_a_few_streams(
    page: Page,
    live_server: str,
    make_user: Callable[..., tuple[int, str]],
    fake_provider: FakeOpenAI,
) -> None:
    """Six slow jobs: four are streamed, the rest polled until a stream is free; all finish."""
    fake_provider.set_delay("images/generations", 2)
    page.add_init_script(COUNT_STREAMS)
    _, key = make_user("ui-many")
    sign_in(page, live_server, key)
    for number in range(6):
        submit(page, f"Postcard number {number}")

    cards = job_cards(page)
    wait_until_completed(cards, 6)
    for card in cards.all():
        wait_for_thumbnail(page, card)
    streams = page.evaluate("window.openStreams")
    assert 2 <= streams["most"] <= 4, streams  # never more than the connection budget
    assert streams["now"] == 0, streams


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


SLOW_PROMPT = "A retro-futuristic city skyline at night, neon reflections in the rain"
STOPPED_PROMPT = "A hot-air balloon festival at sunrise over the valley"
REFUSED_PROMPT = "A famous cartoon mouse breaking into a bank vault"
FLAKY_PROMPT = "A paper boat sailing across a sea of clouds"
WAITING_PROMPT = "A tiny robot tending a bonsai garden, soft morning light"


class StagedProvider(LocalProvider):
    """The offline provider, except that two prompts hang, one is refused, one fails once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.failed_once = False

    def generate_image(self, prompt: str, *, size: str, quality: ImageQuality) -> bytes:
        """Act out the staged behaviour of `prompt` (refined: it starts with the original)."""
        if prompt.startswith((SLOW_PROMPT, STOPPED_PROMPT)):
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


def pretend_real_timings(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Give finished stages the lengths real providers take, and estimate from those.

    The offline provider answers in milliseconds, which would make every estimate 0 s.
    """
    stretch = "CASE name WHEN 'generate' THEN 38 WHEN 'prepare' THEN 2 ELSE 1 END"
    with app.app_context():
        db.session.execute(
            text(
                "UPDATE job_stages SET started_at = finished_at"
                f" - make_interval(secs => {stretch}) WHERE status = 'completed'"
            )
        )
        db.session.execute(
            text(
                "UPDATE jobs SET started_at = finished_at - (SELECT sum(finished_at - started_at)"
                " FROM job_stages WHERE job_id = jobs.id) WHERE finished_at IS NOT NULL"
            )
        )
        db.session.commit()
    monkeypatch.setattr(eta, "_cached", eta.Measurements())  # forget the figures from before


@pytest.mark.timeout(60)
def test_screenshot_of_the_jobs_page(
    page: Page,
    live_server: str,
    app: Any,
    make_user: Callable[..., tuple[int, str]],
    insert_job: Callable[..., str],
    staged_provider: StagedProvider,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Jobs in every state render; UPDATE_SCREENSHOT=1 saves it as docs/screenshot-jobs.png."""
    user_id, key = make_user("Ada", "vip")
    finished = [  # oldest first: the page shows them the other way round
        {"prompt": "A red lighthouse at dusk, watercolour", "size": "1536x1024", "quality": "high"},
        {"prompt": "A cozy isometric reading nook with plants", "priority": "low"},
        {"prompt": FLAKY_PROMPT, "size": "1024x1536", "quality": "medium"},
        {"prompt": REFUSED_PROMPT},
    ]
    for fields in finished:
        submit_by_api(page, live_server, key, **fields)
    sign_in(page, live_server, key)
    cards = job_cards(page)
    expect(cards).to_have_count(len(finished))
    expect(cards.nth(0)).to_have_attribute("data-status", "failed", timeout=JOB_DONE_MS)
    for index in (1, 2, 3):
        expect(cards.nth(index)).to_have_attribute("data-status", "completed", timeout=JOB_DONE_MS)
    pretend_real_timings(app, monkeypatch)

    submit(page, STOPPED_PROMPT)
    expect(cards.first.locator(".stage-running")).to_have_text("generate", timeout=JOB_DONE_MS)
    cards.first.get_by_test_id("cancel").click()
    expect(cards.first).to_have_attribute("data-status", "canceled")
    page.get_by_role("radio", name=re.compile("^High")).check()
    page.get_by_label("Quality").select_option("high")
    submit(page, SLOW_PROMPT)
    expect(cards.first.locator(".stage-running")).to_have_text("generate", timeout=JOB_DONE_MS)
    waiting = insert_job("pending", user_id=user_id)  # never sent to a worker: stays queued
    with app.app_context():
        db.session.execute(
            update(Job)
            .where(Job.id == waiting)
            .values(input={"prompt": WAITING_PROMPT, "size": "1024x1024", "quality": "auto"})
        )
        db.session.commit()

    page.reload()  # shows the stretched timings, and that a reload loses nothing
    expect(cards).to_have_count(len(finished) + 3)
    expect(cards.nth(0)).to_have_attribute("data-status", "pending")
    expect(cards.nth(0).get_by_test_id("queue-position")).to_have_text("#1 in queue")
    expect(cards.nth(1)).to_have_attribute("data-status", "processing")
    expect(cards.nth(1).get_by_test_id("eta")).to_have_text(re.compile(r"≈ \d+ s left"))
    expect(cards.nth(3)).to_contain_text("content_rejected")
    expect(cards.nth(4).locator(".stage-tries")).to_have_text("×2")
    for index in (4, 5, 6):
        wait_for_thumbnail(page, cards.nth(index))

    shot = (
        README_SCREENSHOT if os.environ.get("UPDATE_SCREENSHOT") == "1" else tmp_path / "jobs.png"
    )
    page.screenshot(path=str(shot), full_page=True, animations="disabled")
    assert shot.read_bytes().startswith(PNG_SIGNATURE)

    page.set_viewport_size(PHONE)  # every kind of card fits a phone too
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
