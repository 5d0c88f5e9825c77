"""POST /api/v1/jobs for script jobs: JSON and multipart, bad novels, size limits, idempotency."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterator
from typing import Any

import pytest

from config import get_settings
from webapp.api import schemas, uploads_script

NOVEL = "第一章 开始\n\n“你好。”阿达说。\n"
SMALL_LIMIT = 2000


@pytest.fixture
def small_novel_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """SCRIPT_MAX_NOVEL_BYTES=2000 for this test."""
    small = dataclasses.replace(get_settings(), script_max_novel_bytes=SMALL_LIMIT)
    for module in (schemas, uploads_script):
        monkeypatch.setattr(module, "get_settings", lambda: small)
    yield SMALL_LIMIT


def _form(data: bytes | None = NOVEL.encode(), **fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {"kind": "script", **fields}
    if data is not None:
        form["novel"] = (io.BytesIO(data), "novel.txt", "text/plain")
    return form


def _upload(client: Any, auth: dict[str, str], form: dict[str, Any], **headers: str) -> Any:
    return client.post(
        "/api/v1/jobs", data=form, headers={**auth, **headers}, content_type="multipart/form-data"
    )


def _error(response: Any, status: int, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    error: dict[str, Any] = response.get_json()["error"]
    assert error["field"] == field and error["message"], error
    return error


def test_a_json_submit_answers_202_with_stages_and_an_estimate(
    client: Any, auth: dict[str, str]
) -> None:
    body = {"kind": "script", "input": {"text": NOVEL, "style": "悬疑", "episodes": 2}}
    response = client.post("/api/v1/jobs", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert [s["name"] for s in job["stages"]] == ["split", "outline", "write", "assemble"]
    assert job["input"] == {"text": NOVEL, "style": "悬疑", "episodes": 2, "language": None}
    assert isinstance(job["eta_seconds"], int) and job["eta_seconds"] >= 1


def test_a_multipart_submit_reads_the_utf8_file_and_the_fields(
    client: Any, auth: dict[str, str]
) -> None:
    form = _form(b"\xef\xbb\xbf" + NOVEL.encode(), style="noir", episodes="3", language="en")
    response = _upload(client, auth, form)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "script"
    assert job["input"] == {"text": NOVEL, "style": "noir", "episodes": 3, "language": "en"}
    assert job["eta_seconds"] is not None


def test_the_novel_may_also_come_as_a_plain_form_field(client: Any, auth: dict[str, str]) -> None:
    response = _upload(client, auth, {"kind": "script", "novel": NOVEL})
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["input"]["text"] == NOVEL


def test_the_job_json_shows_an_excerpt_of_a_long_novel(client: Any, auth: dict[str, str]) -> None:
    novel = "很长的小说。" * 1000
    job = _upload(client, auth, _form(novel.encode())).get_json()
    assert job["input"]["text_chars"] == 6000
    assert job["input"]["text"] == novel[:500] + "…"
    listed = client.get("/api/v1/jobs?kind=script", headers=auth).get_json()["data"][0]
    assert listed["input"]["text_chars"] == 6000


@pytest.mark.parametrize(
    ("script_input", "field"),
    [
        ({}, "input.text"),
        ({"text": ""}, "input.text"),
        ({"text": " \n\u3000 "}, "input.text"),
        ({"text": 42}, "input.text"),
        ({"text": ["a novel"]}, "input.text"),
        ({"text": NOVEL, "episodes": "3"}, "input.episodes"),
        ({"text": NOVEL, "episodes": 0}, "input.episodes"),
        ({"text": NOVEL, "episodes": 101}, "input.episodes"),
        ({"text": NOVEL, "episodes": 2.5}, "input.episodes"),
        ({"text": NOVEL, "style": 5}, "input.style"),
        ({"text": NOVEL, "style": "x" * 201}, "input.style"),
        ({"text": NOVEL, "language": "english please"}, "input.language"),
        ({"text": NOVEL, "prompt": "x"}, "input.prompt"),
    ],
)
def test_bad_json_input_is_422_naming_the_field(
    client: Any, auth: dict[str, str], script_input: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/api/v1/jobs", json={"kind": "script", "input": script_input}, headers=auth
    )
    assert _error(response, 422, field)["code"] == "invalid_field"


def test_a_json_novel_over_the_limit_is_413_naming_the_field(
    client: Any, auth: dict[str, str], small_novel_limit: int
) -> None:
    body = {"kind": "script", "input": {"text": "字" * (small_novel_limit // 3 + 1)}}
    error = _error(client.post("/api/v1/jobs", json=body, headers=auth), 413, "input.text")
    assert "2,000 bytes" in error["message"] and "SCRIPT_MAX_NOVEL_BYTES" in error["message"]
    just_fits = {"kind": "script", "input": {"text": "字" * (small_novel_limit // 3)}}
    assert client.post("/api/v1/jobs", json=just_fits, headers=auth).status_code == 202


def test_an_uploaded_novel_over_the_limit_is_413_naming_novel(
    client: Any, auth: dict[str, str], small_novel_limit: int
) -> None:
    error = _error(_upload(client, auth, _form(b"a" * (small_novel_limit + 1))), 413, "novel")
    assert error["code"] == "request_entity_too_large"
    assert _upload(client, auth, _form(b"a" * small_novel_limit)).status_code == 202


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        (_form(None), "novel", "upload"),
        (_form(b""), "novel", "empty"),
        (_form(" \u3000\r\n\t ".encode()), "novel", "empty"),
        (_form("第一章 开始，你好。".encode("gbk")), "novel", "UTF-8"),
        (_form("“Bonjour”, dit-elle.".encode("utf-16")), "novel", "binary"),
        (_form(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "novel", "binary"),
        (_form(episodes="three"), "episodes", "whole number"),
        (_form(episodes="0"), "episodes", "greater than or equal to 1"),
        (_form(language="<script>"), "language", "pattern"),
        (_form(style="x" * 201), "style", "200"),
        (_form(colour="red"), "colour", "unknown"),
        ({"kind": "image", "prompt": "a cat"}, "kind", "JSON"),
        ({"novel": (io.BytesIO(b"text"), "n.txt")}, "kind", "kind"),
        (_form(priority="high"), "priority", "tier"),
    ],
)
def test_bad_multipart_input_is_4xx_naming_the_form_field(
    client: Any, auth: dict[str, str], form: dict[str, Any], field: str, words: str
) -> None:
    error = _error(_upload(client, auth, form), 422, field)
    assert words in error["message"], error
    assert error["message"].startswith(f"{field}:") or field == "priority"


def test_idempotency_covers_the_uploaded_file(client: Any, auth: dict[str, str]) -> None:
    first = _upload(client, auth, _form(), **{"Idempotency-Key": "novel-1"})
    again = _upload(client, auth, _form(), **{"Idempotency-Key": "novel-1"})
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other_file = _upload(client, auth, _form(b"another novel"), **{"Idempotency-Key": "novel-1"})
    assert other_file.status_code == 409
    assert other_file.get_json()["error"]["code"] == "idempotency_conflict"
    other_field = _upload(client, auth, _form(style="noir"), **{"Idempotency-Key": "novel-1"})
    assert other_field.status_code == 409
    as_json = {"kind": "script", "input": {"text": NOVEL}}
    json_replay = client.post(
        "/api/v1/jobs", json=as_json, headers={**auth, "Idempotency-Key": "novel-1"}
    )
    assert json_replay.status_code == 409
