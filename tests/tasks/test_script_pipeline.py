"""Script jobs through a real Celery worker: the local provider, and openai against the fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tasks.db import db
from tasks.models import JobEvent, JobStage
from tests.fake_openai_script import part_of, screenplay_reply

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(90)]

DATA = Path(__file__).resolve().parents[1] / "data"
NOVEL_ZH = (DATA / "novel_zh.txt").read_text(encoding="utf-8")
NOVEL_EN = (DATA / "novel_en.txt").read_text(encoding="utf-8")
THREE_CHAPTERS = "\n\n".join(
    f"第{n}章 标题{n}\n\n第{n}章的正文，阿达走在路上。\n\n“这是第{n}章。”阿达说。" for n in "一二三"
)
SCENE_FIELDS = {"scene", "episode", "part", "heading", "location", "time", "characters", "action",
                "dialogue"}  # fmt: skip


def _submit(client: Any, auth: dict[str, str], text: str, **options: Any) -> dict[str, Any]:
    body = {"kind": "script", "input": {"text": text, **options}}
    response = client.post("/api/v1/jobs", json=body, headers=auth)
    assert response.status_code == 202, response.get_json()
    job: dict[str, Any] = response.get_json()
    return job


class Download:
    """A downloaded artifact: its headers and body (the response is closed)."""

    def __init__(self, response: Any) -> None:
        with response:
            assert response.status_code == 200
            self.headers, self.data = response.headers, response.get_data()

    def text(self) -> str:
        return self.data.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.data)


def _artifact(client: Any, job: dict[str, Any], name: str, auth: dict[str, str]) -> Download:
    (url,) = [a["url"] for a in job["result"]["artifacts"] if a["name"] == name]
    return Download(client.get(url, headers=auth))


def test_a_chinese_novel_becomes_a_screenplay_with_the_local_provider(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    submitted = _submit(client, auth, NOVEL_ZH)
    assert submitted["eta_seconds"] is not None and submitted["eta_seconds"] > 0
    job = wait_for_job(submitted["id"], auth)

    assert job["status"] == "completed", job
    assert [s["name"] for s in job["stages"]] == ["split", "outline", "write", "assemble"]
    result = job["result"]
    assert (result["provider"], result["language"], result["title"]) == (
        "local",
        "zh",
        "青石镇旧事",
    )
    assert result["episodes"] == 2  # one per chapter
    assert {"林晚秋", "沈默", "老周"} <= set(result["characters"])
    markdown = _artifact(client, job, "screenplay.md", auth)
    assert markdown.headers["Content-Type"] == "text/markdown; charset=utf-8"
    text = markdown.text()
    assert text.startswith("# 青石镇旧事\n")
    assert "## 第1集: 第一章 雨夜来客" in text and "### 第1场" in text
    assert "**林晚秋:** 只剩最后一间了。" in text
    play = _artifact(client, job, "screenplay.json", auth).json()
    assert [scene["scene"] for scene in play["scenes"]] == list(range(1, len(play["scenes"]) + 1))
    assert all(set(scene) == SCENE_FIELDS for scene in play["scenes"])
    bridge = next(scene for scene in play["scenes"] if scene["location"] == "镇口的石桥")
    assert (bridge["episode"], bridge["time"]) == (2, "晨")
    assert {"character": "沈默", "line": "等一个十年前就该来的人。"} in bridge["dialogue"]


def test_an_english_novel_keeps_speakers_style_and_one_episode(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    job = wait_for_job(_submit(client, auth, NOVEL_EN, style="noir", episodes=1)["id"], auth)

    assert job["status"] == "completed", job
    play = _artifact(client, job, "screenplay.json", auth).json()
    assert (play["title"], play["style"], play["language"]) == (
        "The Lighthouse Keeper",
        "noir",
        "en",
    )
    assert {scene["episode"] for scene in play["scenes"]} == {1}
    first = play["scenes"][0]
    assert first["heading"] == "Scene 1 — EVENING"
    assert first["characters"] == ["Tom", "Martha"]
    assert first["dialogue"][:2] == [
        {"character": "Tom", "line": "Is the lamp lit?"},
        {"character": "Martha", "line": "Not yet,"},
    ]
    text = _artifact(client, job, "screenplay.md", auth).text()
    assert "### Scene 2 — BEACH — MORNING" in text and "**Tom:** Then we wait." in text


def test_a_novel_without_headings_is_cut_into_bounded_chunks(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    paragraph = "The road went on and on past the fields. " * 20  # ~820 characters
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(20))  # ~16,500: three 6,000 chunks
    job = wait_for_job(_submit(client, auth, text)["id"], auth)

    assert job["status"] == "completed", job
    split = db.session.execute(
        db.select(JobStage.output).where(JobStage.job_id == job["id"], JobStage.name == "split")
    ).scalar_one()
    spans = [(part["start"], part["end"]) for part in split["parts"]]
    assert len(spans) == 3 and all(end - start <= 6000 for start, end in spans)
    assert [part["title"] for part in split["parts"]] == ["Part 1", "Part 2", "Part 3"]
    play = _artifact(client, job, "screenplay.json", auth).json()
    assert {scene["part"] for scene in play["scenes"]} == {1, 2, 3}


def test_openai_writes_each_part_in_a_streamed_call_with_token_progress(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.chat_reply = screenplay_reply
    fake_provider.stream_delay_s = 0.08  # ~30 chunks a part: ~2.5 s of tokens arriving
    job = wait_for_job(_submit(client, auth, NOVEL_ZH, language="en")["id"], auth, timeout_s=60)

    assert job["status"] == "completed", job
    calls = fake_provider.calls("chat/completions")
    assert [part_of(call) for call in calls] == [None, 1, 2]
    outline, *writes = (call["json"] for call in calls)
    assert outline["response_format"] == {"type": "json_object"} and not outline.get("stream")
    assert "Plan exactly 2 episodes" in outline["messages"][0]["content"]
    assert all(body["stream"] is True for body in writes)
    assert "雨夜来客" in writes[0]["messages"][1]["content"]
    play = _artifact(client, job, "screenplay.json", auth).json()
    assert (play["title"], play["provider"]) == ("FAKE TITLE", "openai")
    assert [scene["heading"] for scene in play["scenes"]] == [
        "Scene 1 — PLACE 1 — NIGHT",
        "Scene 2 — PLACE 2 — NIGHT",
    ]
    assert play["episodes"][1]["title"] == "Episode title 2"
    assert job["result"]["characters"] == ["Ada", "Bo"]
    text = _artifact(client, job, "screenplay.md", auth).text()
    assert "**Bo:** \\<b\\>not bold\\</b\\>" in text  # inert in any Markdown renderer

    messages = [
        (event.data["progress"], event.data.get("message", ""))
        for event in db.session.execute(
            db.select(JobEvent).where(JobEvent.job_id == job["id"]).order_by(JobEvent.seq)
        ).scalars()
        if event.data.get("stage", "write") == "write" and "progress" in event.data
    ]
    with_tokens = [
        (p, m) for p, m in messages if m.startswith("Writing part 1 of 2") and "tokens" in m
    ]
    assert len({p for p, _ in with_tokens}) >= 2, messages  # progress moved within one part
    progress = [p for p, _ in messages]
    assert progress == sorted(progress)


def _fail_part(fake: Any, part: int, fail: Callable[[], None]) -> None:
    """Arm `fail` for the chat call of `part` (parts are written in order, one at a time)."""

    def reply(messages: list[dict[str, Any]]) -> str:
        text = screenplay_reply(messages)
        if part_of({"json": {"messages": messages}}) == part - 1 and not armed:
            armed.append(True)
            fail()  # answers the next chat call: the one for `part`
        return text

    armed: list[bool] = []
    fake.chat_reply = reply


def _calls_per_part(fake: Any) -> dict[int | None, int]:
    counts: dict[int | None, int] = {}
    for call in fake.calls("chat/completions"):
        counts[part_of(call)] = counts.get(part_of(call), 0) + 1
    return counts


def test_a_refused_part_fails_the_job_and_a_retry_redoes_only_that_part(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    _fail_part(fake_provider, 2, lambda: fake_provider.reject_content_next("chat/completions"))
    job = wait_for_job(_submit(client, auth, THREE_CHAPTERS)["id"], auth)

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "content_rejected"
    assert job["error"]["message"].startswith("part 2 of 3 (第二章 标题二): ")
    assert [s["status"] for s in job["stages"]] == ["completed", "completed", "failed", "pending"]
    assert _calls_per_part(fake_provider) == {None: 1, 1: 1, 2: 1, 3: 1}  # part 3 still written

    assert client.post(f"/api/v1/jobs/{job['id']}/retry", headers=auth).status_code == 202
    job = wait_for_job(job["id"], auth)
    assert job["status"] == "completed", job
    assert _calls_per_part(fake_provider) == {None: 1, 1: 1, 2: 2, 3: 1}
    play = _artifact(client, job, "screenplay.json", auth).json()
    assert [scene["part"] for scene in play["scenes"]] == [1, 2, 3]


def test_a_transient_failure_resumes_the_write_stage_at_the_missing_part(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    _fail_part(fake_provider, 2, lambda: fake_provider.fail_next("chat/completions", status=503))
    job = wait_for_job(_submit(client, auth, THREE_CHAPTERS)["id"], auth)

    assert job["status"] == "completed", job
    write = next(stage for stage in job["stages"] if stage["name"] == "write")
    assert write["attempts"] == 2
    assert _calls_per_part(fake_provider) == {None: 1, 1: 1, 2: 2, 3: 1}
    saved = json.loads(
        (Path(_workdir(job["id"])) / "parts" / "part-0002.json").read_text(encoding="utf-8")
    )
    assert saved["title"] == "第二章 标题二" and saved["scenes"][0]["location"] == "Place 2"


def _workdir(job_id: str) -> str:
    from tasks.artifacts import job_dir

    return str(job_dir(job_id))
