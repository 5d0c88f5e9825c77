"""Try-on jobs through a real Celery worker, with the local provider and the openai one."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from tasks.providers.local_tryon import FACE_BOX, TORSO_BOX
from tasks.providers.openai_tryon import FACESWAP_PROMPT
from tests.fake_openai import prompt_colour
from tests.tryon_images import GARMENT, SHIRT, SKIN, encode, garment, portrait

pytestmark = [pytest.mark.usefixtures("celery_session_worker"), pytest.mark.timeout(60)]

ARTIFACTS = {
    "tryon.png",
    "thumbnail.png",
    "styled.png",
    "tryon_raw.png",
    "person.png",
    "garment.png",
}


def _submit(client: Any, auth: dict[str, str], occasion: str = "a summer wedding") -> str:
    form = {
        "kind": "tryon",
        "occasion": occasion,
        "human_image": (io.BytesIO(encode(portrait(), "JPEG", quality=95)), "me.jpg"),
        "garment_image": (io.BytesIO(encode(garment())), "dress.png"),
    }
    response = client.post(
        "/api/v1/jobs", data=form, headers=auth, content_type="multipart/form-data"
    )
    assert response.status_code == 202, response.get_json()
    return str(response.get_json()["id"])


def _image(client: Any, job: dict[str, Any], name: str, auth: dict[str, str]) -> Image.Image:
    url = next(a["url"] for a in job["result"]["artifacts"] if a["name"] == name)
    with client.get(url, headers=auth) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "image/png"
        return Image.open(io.BytesIO(response.data)).convert("RGB")


def _centre(image: Image.Image, box: tuple[float, float, float, float]) -> tuple[int, ...]:
    left, top, right, bottom = box
    pixel = image.getpixel((image.width * (left + right) / 2, image.height * (top + bottom) / 2))
    assert isinstance(pixel, tuple)
    return pixel


def _near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def test_local_tryon_composes_both_photos_and_keeps_the_face(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    job = wait_for_job(_submit(client, auth), auth)

    assert job["status"] == "completed", job
    assert [(s["name"], s["status"], s["attempts"]) for s in job["stages"]] == [
        ("advice", "completed", 1),
        ("style", "completed", 1),
        ("tryon", "completed", 1),
        ("faceswap", "completed", 1),
    ]
    result = job["result"]
    assert result["provider"] == "local"
    assert {a["name"] for a in result["artifacts"]} == ARTIFACTS
    assert "summer wedding" in result["text"] and "red garment" in result["text"]
    assert "pastels" in result["text"]  # the wedding palette

    person = _image(client, job, "person.png", auth)
    styled = _image(client, job, "styled.png", auth)
    final = _image(client, job, "tryon.png", auth)
    assert final.size == person.size == (240, 320)
    assert (result["width"], result["height"]) == (240, 320)
    assert _near(_centre(person, FACE_BOX), SKIN)
    assert _near(_centre(final, FACE_BOX), SKIN)  # faceswap put the original face back
    torso = _centre(final, TORSO_BOX)
    assert not _near(torso, SHIRT, 60)  # the person's own shirt is covered ...
    assert not _near(torso, GARMENT, 20)  # ... by the garment, restyled for the occasion
    assert not _near(torso, _centre(styled, (0.3, 0.3, 0.7, 0.7)), 5)  # graded ...
    assert _near(torso, _centre(styled, (0.3, 0.3, 0.7, 0.7)), 60)  # ... but still the garment
    raw = _image(client, job, "tryon_raw.png", auth)
    assert not _near(_centre(raw, FACE_BOX), SKIN)  # tryon re-drew (graded) the whole photo
    assert _near(_centre(raw, TORSO_BOX), torso, 2)
    assert max(_image(client, job, "thumbnail.png", auth).size) <= 256


def test_local_results_depend_on_the_occasion(
    client: Any, auth: dict[str, str], wait_for_job: Callable[..., Any]
) -> None:
    jobs = [
        wait_for_job(_submit(client, auth, occasion), auth)
        for occasion in ("a job interview", "a beach party at night")
    ]
    torsos = [_centre(_image(client, job, "tryon.png", auth), TORSO_BOX) for job in jobs]
    assert not _near(torsos[0], torsos[1])
    assert "navy" in jobs[0]["result"]["text"]


def test_openai_tryon_sends_both_images_to_images_edit(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.chat_reply = "Wear it with nude heels and a pearl clutch."
    job = wait_for_job(_submit(client, auth), auth)

    assert job["status"] == "completed", job
    assert job["result"]["text"] == fake_provider.chat_reply
    (chat,) = fake_provider.calls("chat/completions")
    question = chat["json"]["messages"][-1]["content"]
    assert question[0] == {"type": "text", "text": "Occasion: a summer wedding"}
    assert question[1]["image_url"]["url"].startswith("data:image/png;base64,")

    style, tryon, faceswap = fake_provider.calls("images/edits")
    sizes = {a["name"]: a["size"] for a in job["result"]["artifacts"]}
    assert style["form"]["model"] == "gpt-image-1"
    assert "a summer wedding" in style["form"]["prompt"]
    assert fake_provider.chat_reply in style["form"]["prompt"]
    assert [size for _, _, size in style["files"]] == [sizes["garment.png"]]
    assert [(field, name) for field, name, _ in tryon["files"]] == [
        ("image[]", "person.png"),
        ("image[]", "garment.png"),
    ]
    assert [size for _, _, size in tryon["files"]] == [sizes["person.png"], sizes["styled.png"]]
    assert [size for _, _, size in faceswap["files"]] == [
        sizes["tryon_raw.png"],
        sizes["person.png"],
    ]
    final = _image(client, job, "tryon.png", auth)
    assert final.getpixel((5, 5)) == prompt_colour(FACESWAP_PROMPT)


def test_a_retried_stage_does_not_pay_again_for_finished_ones(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.fail_next("images/edits", status=503)
    job = wait_for_job(_submit(client, auth), auth)

    assert job["status"] == "completed", job
    assert [s["attempts"] for s in job["stages"]] == [1, 2, 1, 1]
    assert len(fake_provider.calls("chat/completions")) == 1
    assert len(fake_provider.calls("images/edits")) == 4


def test_a_rejected_edit_fails_then_a_retry_resumes_at_that_stage(
    client: Any, auth: dict[str, str], fake_provider: Any, wait_for_job: Callable[..., Any]
) -> None:
    fake_provider.reject_content_next("images/edits")
    job_id = _submit(client, auth)
    failed = wait_for_job(job_id, auth)

    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "content_rejected"
    assert [s["status"] for s in failed["stages"]] == ["completed", "failed", "pending", "pending"]

    assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=auth).status_code == 202
    done = wait_for_job(job_id, auth)
    assert done["status"] == "completed", done
    assert len(fake_provider.calls("chat/completions")) == 1  # advice was not asked again
    assert len(fake_provider.calls("images/edits")) == 4
