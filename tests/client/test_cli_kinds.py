"""Script and try-on jobs through the client and the CLI (the kinds land from other branches).

They follow the shared contract: multipart `novel` (+ style, episodes, language) or JSON
`input.text` for scripts; `human_image`, `garment_image`, `occasion` for try-on; results
`screenplay.md` + `screenplay.json`, and `tryon.png` with the advice in `result.text`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from genjobs_client import Client

pytestmark = pytest.mark.timeout(120)

GENJOBS = Path(sys.executable).with_name("genjobs")

NOVEL = """第一章 灯塔

林夏回到海边的小镇，灯塔已经熄灭了十年。
"你还记得这里吗？"老周问。
"记得。"林夏说，"我父亲每天晚上都来点灯。"

第二章 风暴

风暴来的那一夜，渔船没有回港。林夏爬上灯塔，重新点亮了灯。
"""


@pytest.fixture
def novel(tmp_path: Path) -> Path:
    """A short two-chapter novel as a UTF-8 .txt file."""
    path = tmp_path / "novel.txt"
    path.write_text(NOVEL, encoding="utf-8")
    return path


@pytest.fixture
def photos(tmp_path: Path) -> tuple[Path, Path]:
    """A person photo and a garment photo (drawn, small)."""
    human = Image.new("RGB", (256, 384), (230, 225, 215))
    draw = ImageDraw.Draw(human)
    draw.ellipse((96, 30, 160, 100), fill=(224, 180, 150))  # a face
    draw.rectangle((80, 110, 176, 300), fill=(60, 60, 120))  # a body
    garment = Image.new("RGB", (256, 256), (255, 255, 255))
    ImageDraw.Draw(garment).polygon(
        [(60, 40), (196, 40), (220, 230), (36, 230)], fill=(180, 30, 40)
    )
    human_path, garment_path = tmp_path / "human.png", tmp_path / "garment.png"
    human.save(human_path)
    garment.save(garment_path)
    return human_path, garment_path


def _run_cli(
    args: list[str], live_server: str, api_key: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GENJOBS_URL": live_server, "GENJOBS_API_KEY": api_key}
    return subprocess.run(
        [str(GENJOBS), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def test_client_script_from_a_file(api: Client, novel: Path, tmp_path: Path) -> None:
    job = api.submit_script(novel, episodes=2, language="zh")
    assert job.kind == "script"
    done = api.wait(job.id, timeout_s=90)
    assert {"screenplay.md", "screenplay.json"} <= {a.name for a in done.artifacts}
    saved = api.download(done, tmp_path / "out", names=["screenplay.md"])
    assert saved[0].read_text(encoding="utf-8").strip()


def test_client_script_from_text(api: Client) -> None:
    done = api.wait(api.submit_script(text=NOVEL, style="drama").id, timeout_s=90)
    assert done.status == "completed"
    assert "screenplay.json" in {a.name for a in done.artifacts}


def test_cli_script_waits_and_writes_the_screenplay(
    live_server: str, api_key: str, novel: Path, tmp_path: Path
) -> None:
    result = _run_cli(
        ["script", str(novel), "--episodes", "2", "--wait", "--output", "out"],
        live_server,
        api_key,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "screenplay.md").read_text(encoding="utf-8").strip()
    assert "completed" in result.stderr


def test_client_tryon(api: Client, photos: tuple[Path, Path], tmp_path: Path) -> None:
    human, garment = photos
    job = api.submit_tryon(human, garment, "a summer wedding")
    assert job.kind == "tryon"
    done = api.wait(job.id, timeout_s=90)
    assert "tryon.png" in {a.name for a in done.artifacts}
    assert done.text
    (path,) = api.download(done, tmp_path / "out", names=["tryon.png"])
    with Image.open(path) as image:
        assert image.format == "PNG"


def test_cli_tryon_waits_and_writes_the_image(
    live_server: str, api_key: str, photos: tuple[Path, Path], tmp_path: Path
) -> None:
    human, garment = photos
    result = _run_cli(
        [
            "tryon",
            str(human),
            str(garment),
            "--occasion",
            "job interview",
            "--wait",
            "--output",
            "out",
        ],
        live_server,
        api_key,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "tryon.png").is_file()
    assert result.stdout.strip().splitlines()[-1]  # the advice text is printed last
