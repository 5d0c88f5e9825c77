"""Tests for tests/fake_openai.py, driven through the real ``openai`` client."""

from __future__ import annotations

import base64
import http.client
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam
from PIL import Image

from tests.fake_openai import FakeOpenAI, prompt_colour

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(autouse=True)
def _reset_fake(fake: FakeOpenAI) -> Iterator[None]:
    fake.reset()
    yield
    fake.reset()


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(api_key="test", base_url=fake.base_url, max_retries=0, timeout=5) as c:
        yield c


def _image(b64: str | None) -> Image.Image:
    assert b64 is not None
    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    img.load()
    return img


def _raw(fake: FakeOpenAI, method: str, path: str, **headers: str) -> tuple[int, Any]:
    url = fake.base_url.removesuffix("/v1") + path
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read())


def test_generate_returns_png_of_requested_size_coloured_by_prompt(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    cat = client.images.generate(model="gpt-image-1", prompt="a cat", size="256x256")
    dog = client.images.generate(
        model="gpt-image-1", prompt="a dog", size="1024x1024", n=2, quality="low"
    )
    assert cat.data is not None and dog.data is not None
    cat_img, dog_img = _image(cat.data[0].b64_json), _image(dog.data[0].b64_json)
    assert (cat_img.format, cat_img.size) == ("PNG", (256, 256))
    assert dog_img.size == (1024, 1024) and len(dog.data) == 2
    assert cat_img.convert("RGB").getpixel((10, 10)) == prompt_colour("a cat")
    assert dog_img.convert("RGB").getpixel((10, 10)) == prompt_colour("a dog")
    assert prompt_colour("a cat") != prompt_colour("a dog")
    assert cat.data[0].revised_prompt == "a cat"
    calls = fake.calls("images/generations")
    assert [c["json"]["prompt"] for c in calls] == ["a cat", "a dog"]
    assert calls[1]["json"]["quality"] == "low" and calls[1]["method"] == "POST"
    assert calls[0]["headers"]["authorization"] == "Bearer test"


def test_generate_rejects_bad_size(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model="dall-e-2", prompt="x", size="huge")
    assert exc.value.param == "size"


def test_edit_with_two_files_is_recorded(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    first = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3  # binary, CRLFs included
    second = b"--not-a-boundary\r\n\r\n" * 10
    result = client.images.edit(
        model="gpt-image-1",
        image=[("a.png", first, "image/png"), ("b.png", second, "image/png")],
        prompt="make it blue",
        size="256x256",
    )
    assert result.data is not None
    img = _image(result.data[0].b64_json)
    assert img.size == (256, 256)
    assert img.convert("RGB").getpixel((0, 0)) == prompt_colour("make it blue")
    [call] = fake.calls("images/edits")
    assert call["json"] is None
    assert call["form"]["prompt"] == "make it blue"
    assert call["form"]["model"] == "gpt-image-1"
    assert call["form"]["size"] == "256x256"
    assert [(f.rstrip("[]"), n, s) for f, n, s in call["files"]] == [
        ("image", "a.png", len(first)),
        ("image", "b.png", len(second)),
    ]


def test_chat_non_streaming_and_overrides(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hello " + "x" * 300},
    ]
    done = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert done.object == "chat.completion" and done.model == "gpt-4o-mini"
    assert done.choices[0].finish_reason == "stop"
    assert done.choices[0].message.content == "FAKE: " + ("hello " + "x" * 300)[:200]

    fake.chat_reply = "fixed"
    done = client.chat.completions.create(model="m", messages=messages)
    assert done.choices[0].message.content == "fixed"
    fake.chat_reply = lambda msgs: f"{len(msgs)} messages"
    done = client.chat.completions.create(model="m", messages=messages)
    assert done.choices[0].message.content == "2 messages"
    assert len(fake.calls("chat/completions")) == 3


def test_chat_streaming_deltas_join_to_reply(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "tell me a short story"}],
        stream=True,
    )
    with stream:
        chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices]
    contents = [d for d in deltas if d]
    assert len(contents) > 2
    assert "".join(contents) == "FAKE: tell me a short story"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])


def test_fail_next_500_then_success(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.fail_next("images/generations", status=500, times=2)
    for _ in range(2):
        with pytest.raises(openai.InternalServerError) as exc:
            client.images.generate(model="gpt-image-1", prompt="p", size="256x256")
        assert exc.value.status_code == 500 and exc.value.type == "server_error"
    client.chat.completions.create(  # other endpoints are unaffected
        model="m", messages=[{"role": "user", "content": "hi"}]
    )
    ok = client.images.generate(model="gpt-image-1", prompt="p", size="256x256")
    assert ok.data is not None and len(fake.calls("images/generations")) == 3


def test_rate_limit_next_sets_retry_after(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.rate_limit_next("images/generations", retry_after_s=1)
    with pytest.raises(openai.RateLimitError) as exc:
        client.images.generate(model="gpt-image-1", prompt="p", size="256x256")
    assert exc.value.response.headers["retry-after"] == "1"
    assert exc.value.code == "rate_limit_exceeded"
    assert exc.value.type == "rate_limit_exceeded"
    client.images.generate(model="gpt-image-1", prompt="p", size="256x256")


def test_reject_content_next(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.reject_content_next("images/generations")
    with pytest.raises(openai.BadRequestError) as exc:
        client.images.generate(model="gpt-image-1", prompt="p", size="256x256")
    assert exc.value.code == "content_policy_violation"
    body = exc.value.body
    assert isinstance(body, dict) and set(body) == {"message", "type", "param", "code"}


def test_hang_next_triggers_client_timeout(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.hang_next("chat/completions", seconds=5)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.5).chat.completions.create(model="m", messages=messages)
    assert time.monotonic() - started < 3
    done = client.chat.completions.create(model="m", messages=messages)
    assert done.choices[0].message.content == "FAKE: hi"


def test_required_api_key(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.required_api_key = "secret"
    with pytest.raises(openai.AuthenticationError) as exc:
        client.models.list()
    assert exc.value.code == "invalid_api_key"
    assert exc.value.type == "invalid_request_error"
    assert _raw(fake, "GET", "/v1/models")[0] == 401
    with openai.OpenAI(api_key="secret", base_url=fake.base_url, max_retries=0) as ok:
        assert next(m.id for m in ok.models.list()) == "gpt-image-1"


def test_delays_are_applied_per_endpoint(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.set_delay("chat/completions", 0.6)
    started = time.monotonic()
    client.models.list()
    assert time.monotonic() - started < 0.5  # other endpoints are not delayed
    started = time.monotonic()
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "a"}])
    assert time.monotonic() - started >= 0.6
    fake.delay_s = 0.2
    started = time.monotonic()
    client.models.list()
    assert time.monotonic() - started >= 0.2


def test_unknown_path_and_recording(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-image-1")
    status, body = _raw(fake, "POST", "/v1/nope")
    assert status == 404
    assert body["error"]["type"] == "invalid_request_error"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert [r["path"] for r in fake.requests] == ["/v1/models/gpt-image-1", "/v1/nope"]
    assert fake.requests[0]["t"] <= fake.requests[1]["t"]
    assert fake.calls("nope")[0]["method"] == "POST"
    fake.reset()
    assert fake.requests == []


def test_keep_alive_and_stream_connection_close(fake: FakeOpenAI) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(fake.base_url).port)
    try:
        for _ in range(3):  # several requests on one persistent connection
            conn.request("GET", "/v1/models")
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["object"] == "list"
        payload = {"model": "m", "stream": True, "messages": [{"role": "user"}]}
        conn.request("POST", "/v1/chat/completions", body=json.dumps(payload))
        resp = conn.getresponse()
        assert resp.getheader("Connection") == "close"
        assert resp.read().endswith(b"data: [DONE]\n\n")
    finally:
        conn.close()


def test_standalone_cli_prints_base_url_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai", "--port", "0", "--delay", "0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        with openai.OpenAI(api_key="k", base_url=base_url, max_retries=0) as c:
            assert len(c.models.list().data) >= 1
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
