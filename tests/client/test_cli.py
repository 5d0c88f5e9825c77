"""The `genjobs` command line against the running stack: output, files, and exit codes."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from rich.console import Console

from genjobs_client import Client, Job, Progress
from genjobs_client.cli import (
    EXIT_AUTH,
    EXIT_CANCELED,
    EXIT_CONFLICT,
    EXIT_JOB_FAILED,
    EXIT_NOT_FOUND,
    EXIT_TIMEOUT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    main,
)
from genjobs_client.display import ProgressDisplay

pytestmark = pytest.mark.timeout(90)

GENJOBS = Path(sys.executable).with_name("genjobs")
"""The console script `make install` puts in the virtualenv."""


@pytest.fixture
def cli(
    live_server: str, api_key: str, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """Run `genjobs ARGS` in-process against the live server; returns (code, stdout, stderr)."""

    def run(*args: str, key: str | None = None, url: str | None = None) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, "--url", url or live_server, "--api-key", key or api_key])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_image_wait_output_shows_stages_and_writes_the_png(
    live_server: str, api_key: str, tmp_path: Path
) -> None:
    env = {**os.environ, "GENJOBS_URL": live_server, "GENJOBS_API_KEY": api_key}
    result = subprocess.run(
        [str(GENJOBS), "image", "a red lighthouse", "--wait", "--output", "out/"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    progress_lines = result.stderr.splitlines()
    for stage in ("prepare", "generate", "finalize"):
        assert any(f" {stage} " in line for line in progress_lines), result.stderr
    assert "completed" in progress_lines[-1] and "100%" in progress_lines[-1]
    png = tmp_path / "out" / "image.png"
    assert f"saved {Path('out') / 'image.png'}" in result.stdout
    with Image.open(png) as image:
        assert image.format == "PNG"
    assert (tmp_path / "out" / "thumbnail.png").is_file()


def test_submit_without_wait_prints_the_job(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, out, _ = cli("image", "just submit", "--size", "256x256", "--json")
    assert code == 0
    job = json.loads(out)
    assert job["kind"] == "image" and job["input"]["prompt"] == "just submit"
    code, out, _ = cli("get", job["id"])
    assert code == 0 and f"id        {job['id']}" in out
    code, out, _ = cli("list", "--json")
    assert [j["id"] for j in json.loads(out)["data"]] == [job["id"]]


def test_a_bad_key_exits_with_the_auth_code(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, _, err = cli("list", key="gj_wrong")
    assert code == EXIT_AUTH
    assert "authentication failed" in err


def test_an_unknown_job_exits_with_not_found(cli: Callable[..., tuple[int, str, str]]) -> None:
    code, _, err = cli("get", "no-such-job")
    assert code == EXIT_NOT_FOUND
    assert "no job no-such-job" in err


def test_a_wait_that_runs_out_exits_with_the_timeout_code(
    cli: Callable[..., tuple[int, str, str]], api: Client, slow_generate: Any
) -> None:
    slow_generate(6)
    code, _, err = cli("image", "slow", "--size", "256x256", "--wait", "--timeout", "1")
    assert code == EXIT_TIMEOUT
    assert "did not finish within 1 s" in err
    for job in api.list_jobs(status="processing").jobs + api.list_jobs(status="pending").jobs:
        api.cancel(job.id)


def test_a_failed_job_exits_with_the_failure_code(
    cli: Callable[..., tuple[int, str, str]], fake_provider: Any
) -> None:
    fake_provider.reject_content_next("images/generations")
    code, _, err = cli("image", "refused", "--size", "256x256", "--wait")
    assert code == EXIT_JOB_FAILED
    assert "failed" in err and "content_rejected" in err


def test_an_unreachable_service_exits_with_unavailable(
    cli: Callable[..., tuple[int, str, str]],
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _, err = cli("list", url=f"http://127.0.0.1:{port}")
    assert code == EXIT_UNAVAILABLE
    assert "cannot reach" in err


def test_bad_input_and_a_missing_key_exit_with_the_usage_code(
    cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = cli("image", "   ")
    assert code == EXIT_USAGE and "invalid input.prompt" in err
    monkeypatch.delenv("GENJOBS_API_KEY", raising=False)
    assert main(["list"]) == EXIT_USAGE
    assert "GENJOBS_API_KEY" in capsys.readouterr().err


def test_watch_cancel_retry_and_download(
    cli: Callable[..., tuple[int, str, str]], api: Client, slow_generate: Any, tmp_path: Path
) -> None:
    slow_generate(2)
    job = api.submit_image("steered", size="256x256")
    code, out, _ = cli("cancel", job.id)
    assert code == 0 and "status    canceled" in out
    code, _, err = cli("watch", job.id)
    assert code == EXIT_CANCELED and "canceled" in err
    code, _, err = cli("cancel", job.id)
    assert code == EXIT_CONFLICT
    slow_generate(0)
    code, out, err = cli("retry", job.id, "--wait", "--output", str(tmp_path / "a"))
    assert code == 0, err
    assert (tmp_path / "a" / "image.png").is_file()
    code, out, _ = cli("download", job.id, "--output", str(tmp_path / "b"))
    assert code == 0 and sorted(out.split()) == sorted(
        str(tmp_path / "b" / name) for name in ("image.png", "thumbnail.png")
    )
    code, out, _ = cli("watch", job.id, "--json")
    assert code == 0 and json.loads(out)["status"] == "completed"


def test_a_terminal_gets_a_bar_per_stage() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, color_system=None)
    job = Job.from_json(
        {
            "id": "3f2a0000",
            "kind": "image",
            "status": "pending",
            "stages": [{"name": n} for n in ("prepare", "generate", "finalize")],
        }
    )
    with ProgressDisplay(job, console) as display:
        display.update(Progress("processing", "prepare", 5, "Refining the prompt"))
        display.update(Progress("processing", "generate", 40, "Generating the image"))
        display.update(Progress("completed", "finalize", 100, "Done"))
    final = screen.getvalue().rsplit("job 3f2a0000", 1)[-1]
    assert final.count("100%") == 4  # the job and each of its three stages
    for stage in ("prepare", "generate", "finalize"):
        assert stage in final
