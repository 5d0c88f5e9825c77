"""POST /api/v1/jobs as multipart for `tryon`: uploads checked by content, stored before the job."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from config import get_settings
from tests.tryon_images import bomb_png, encode, garment, portrait, rotated_jpeg

pytestmark = pytest.mark.timeout(30)


def _form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "kind": "tryon",
        "occasion": "a summer wedding",
        "human_image": (io.BytesIO(encode(portrait(), "JPEG")), "me.jpg"),
        "garment_image": (io.BytesIO(encode(garment())), "dress.png"),
    }
    form.update(overrides)
    return {name: value for name, value in form.items() if value is not None}


def _post(client: Any, auth: dict[str, str], form: dict[str, Any], **headers: str) -> Any:
    return client.post(
        "/api/v1/jobs", data=form, headers={**auth, **headers}, content_type="multipart/form-data"
    )


def _stored(digest: str) -> Image.Image:
    path = Path(os.environ["ARTIFACTS_DIR"]) / "uploads" / f"{digest}.png"
    return Image.open(io.BytesIO(path.read_bytes()))


def _error(response: Any, status: int, field: str) -> dict[str, str]:
    assert response.status_code == status, response.get_json()
    error: dict[str, str] = response.get_json()["error"]
    assert error["field"] == field, error
    assert error["message"]
    return error


def test_a_multipart_submit_stores_both_images_as_png_before_answering_202(
    client: Any, auth: dict[str, str]
) -> None:
    response = _post(client, auth, _form())

    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert job["kind"] == "tryon"
    assert job["status"] in ("pending", "processing")  # a running worker may have started it
    assert [stage["name"] for stage in job["stages"]] == ["advice", "style", "tryon", "faceswap"]
    assert job["input"]["occasion"] == "a summer wedding"
    person = _stored(job["input"]["human_image"])
    assert (person.format, person.size) == ("PNG", (240, 320))
    assert _stored(job["input"]["garment_image"]).size == (160, 200)


def test_the_type_comes_from_the_content_not_the_file_name(
    client: Any, auth: dict[str, str]
) -> None:
    webp = (io.BytesIO(encode(portrait(), "WEBP")), "portrait.txt")
    assert _post(client, auth, _form(human_image=webp)).status_code == 202

    text = (io.BytesIO(b"just some words, not a picture"), "photo.png")
    error = _error(_post(client, auth, _form(human_image=text)), 422, "human_image")
    assert error["code"] == "unsupported_image"
    gif = (io.BytesIO(encode(garment(), "GIF")), "dress.png")
    assert _error(_post(client, auth, _form(garment_image=gif)), 422, "garment_image")


def test_an_image_over_the_byte_limit_is_413_naming_its_field(
    client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.api import uploads_tryon

    small = dataclasses.replace(get_settings(), tryon_max_image_bytes=20_000)
    monkeypatch.setattr(uploads_tryon, "get_settings", lambda: small)
    noise = Image.frombytes("RGB", (200, 200), os.urandom(200 * 200 * 3))
    big = (io.BytesIO(encode(noise)), "big.png")

    error = _error(_post(client, auth, _form(garment_image=big)), 413, "garment_image")
    assert error["code"] == "file_too_large"
    assert "20000 bytes" in error["message"]


def test_a_request_over_max_request_bytes_is_413_json(
    app: Any, client: Any, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 50_000)
    padding = (io.BytesIO(os.urandom(60_000)), "big.png")
    response = _post(client, auth, _form(human_image=padding))

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


@pytest.mark.parametrize(
    "size",
    [
        (7_000, 7_000),  # 49 M pixels: over TRYON_MAX_IMAGE_PIXELS, under Pillow's own limit
        (10_000, 10_000),  # 100 M: Pillow warns (DecompressionBombWarning)
        (30_000, 30_000),  # 900 M: Pillow refuses (DecompressionBombError)
    ],
)
def test_a_decompression_bomb_is_422_naming_its_field(
    client: Any, auth: dict[str, str], size: tuple[int, int]
) -> None:
    bomb = (io.BytesIO(bomb_png(*size)), "small.png")
    error = _error(_post(client, auth, _form(human_image=bomb)), 422, "human_image")
    assert error["code"] == "image_too_large"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"occasion": None}, "occasion"),
        ({"occasion": "   "}, "occasion"),
        ({"occasion": "x" * 201}, "occasion"),
        ({"garment_image": None}, "garment_image"),
        ({"human_image": "not a file"}, "human_image"),
        ({"human_image": (io.BytesIO(b""), "empty.png")}, "human_image"),
        ({"human_image": (io.BytesIO(encode(portrait())[:300]), "cut.png")}, "human_image"),
        ({"kind": "image"}, "kind"),
        ({"style": "noir"}, "style"),
        ({"priority": "high"}, "priority"),
    ],
)
def test_bad_input_is_422_naming_the_field(
    client: Any, auth: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    _error(_post(client, auth, _form(**overrides)), 422, field)


def test_an_exif_rotated_photo_is_stored_upright(client: Any, auth: dict[str, str]) -> None:
    photo = (io.BytesIO(rotated_jpeg()), "phone.jpg")
    job = _post(client, auth, _form(human_image=photo)).get_json()

    stored = _stored(job["input"]["human_image"]).convert("RGB")
    assert stored.size == (30, 60)  # portrait, as the camera held it
    red, blue = stored.getpixel((15, 10)), stored.getpixel((15, 50))
    assert red[0] > 180 and red[2] < 80, red  # the left half of the sensor is now on top
    assert blue[2] > 180 and blue[0] < 80, blue


def test_the_idempotency_key_covers_the_files(client: Any, auth: dict[str, str]) -> None:
    key = {"Idempotency-Key": "tryon-1"}
    first = _post(client, auth, _form(), **key)
    again = _post(
        client, auth, _form(garment_image=(io.BytesIO(encode(garment())), "x.png")), **key
    )
    other = (io.BytesIO(encode(garment(120, 200))), "dress.png")
    changed = _post(client, auth, _form(garment_image=other), **key)

    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"  # another file name, same bytes
    assert changed.status_code == 409
    assert changed.get_json()["error"]["code"] == "idempotency_conflict"


def test_a_json_submit_may_reuse_uploaded_images_by_digest(
    client: Any, auth: dict[str, str]
) -> None:
    uploaded = _post(client, auth, _form()).get_json()["input"]
    body = {"kind": "tryon", "input": {**uploaded, "occasion": "a job interview"}}
    again = client.post("/api/v1/jobs", json=body, headers=auth)
    assert again.status_code == 202, again.get_json()
    assert again.get_json()["input"]["occasion"] == "a job interview"

    unknown = {**body["input"], "human_image": "0" * 64}
    response = client.post("/api/v1/jobs", json={**body, "input": unknown}, headers=auth)
    _error(response, 422, "input.human_image")
