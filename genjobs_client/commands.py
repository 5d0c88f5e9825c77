"""What each `genjobs` subcommand does; each returns its exit code or raises a client error."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from genjobs_client.client import Client
from genjobs_client.config import load_client_config
from genjobs_client.display import ProgressDisplay
from genjobs_client.models import Job
from genjobs_client.streaming import raise_for_outcome


def _client(args: argparse.Namespace) -> Client:
    config = load_client_config(args.url, args.api_key)
    # A command line should answer soon when the service is down: two quick retries.
    return Client(config.url, config.api_key, max_retries=2, backoff_s=0.5)


def submit_image(args: argparse.Namespace) -> int:
    """genjobs image PROMPT."""
    with _client(args) as client:
        job = client.submit_image(
            args.prompt, size=args.size, quality=args.quality, priority=args.priority
        )
        return _after_submit(client, job, args)


def submit_script(args: argparse.Namespace) -> int:
    """genjobs script FILE.txt."""
    with _client(args) as client:
        job = client.submit_script(
            Path(args.file),
            style=args.style,
            episodes=args.episodes,
            language=args.language,
            priority=args.priority,
        )
        return _after_submit(client, job, args)


def submit_tryon(args: argparse.Namespace) -> int:
    """genjobs tryon HUMAN GARMENT --occasion TEXT."""
    with _client(args) as client:
        job = client.submit_tryon(
            Path(args.human), Path(args.garment), args.occasion, priority=args.priority
        )
        return _after_submit(client, job, args)


def list_jobs(args: argparse.Namespace) -> int:
    """genjobs list."""
    with _client(args) as client:
        page = client.list_jobs(status=args.status, kind=args.kind, limit=args.limit)
    if args.json:
        _print_json({"data": [job.raw for job in page.jobs], "next_cursor": page.next_cursor})
        return 0
    for job in page.jobs:
        print(
            f"{job.id}  {job.kind:<7} {job.status:<10} {job.stage or '-':<10} "
            f"{job.progress:>3}%  {job.raw.get('created_at') or ''}"
        )
    if not page.jobs:
        print("no jobs", file=sys.stderr)
    return 0


def get_job(args: argparse.Namespace) -> int:
    """genjobs get ID."""
    with _client(args) as client:
        job = client.get(args.job_id)
    _show(job, args)
    return 0


def watch_job(args: argparse.Namespace) -> int:
    """genjobs watch ID: follow until it finishes; the exit code tells how it ended."""
    with _client(args) as client:
        return _follow(client, client.get(args.job_id), args)


def cancel_job(args: argparse.Namespace) -> int:
    """genjobs cancel ID."""
    with _client(args) as client:
        job = client.cancel(args.job_id)
    _show(job, args)
    return 0


def retry_job(args: argparse.Namespace) -> int:
    """genjobs retry ID [--wait]."""
    with _client(args) as client:
        return _after_submit(client, client.retry(args.job_id), args)


def download(args: argparse.Namespace) -> int:
    """genjobs download ID --output DIR."""
    with _client(args) as client:
        paths = client.download(args.job_id, args.output)
    for path in paths:
        print(path)
    return 0


def _after_submit(client: Client, job: Job, args: argparse.Namespace) -> int:
    if not (args.wait or args.output):
        _show(job, args)
        return 0
    return _follow(client, job, args)


def _follow(client: Client, job: Job, args: argparse.Namespace) -> int:
    """Wait with progress, save the results if asked, and report; raises on failure."""
    if args.json:
        job = client.wait(job.id, timeout_s=args.timeout, raise_on_failure=False)
        _print_json(job.raw)
    else:
        console = Console(stderr=True)
        console.print(f"job {job.id} ({job.kind}) {job.status}", highlight=False)
        with ProgressDisplay(job, console) as display:
            job = client.wait(
                job.id, timeout_s=args.timeout, on_progress=display.update, raise_on_failure=False
            )
    raise_for_outcome(job)
    saved = client.download(job, args.output) if getattr(args, "output", None) else []
    if not args.json:
        print(f"job {job.id} completed")
        for path in saved:
            print(f"saved {path}")
        if job.text:
            print(job.text)
    return 0


def _show(job: Job, args: argparse.Namespace) -> None:
    if args.json:
        _print_json(job.raw)
        return
    print(f"id        {job.id}")
    print(f"kind      {job.kind}")
    print(f"status    {job.status}")
    print(f"stage     {job.stage or '-'}  ({job.progress}%)")
    if job.message:
        print(f"message   {job.message}")
    if job.queue_position:
        print(f"queue     #{job.queue_position}")
    if job.error:
        print(f"error     {job.error.get('code')}: {job.error.get('message')}")
    for artifact in job.artifacts:
        print(f"artifact  {artifact.name}  ({artifact.content_type})")


def _print_json(body: Any) -> None:
    print(json.dumps(body, indent=2, ensure_ascii=False))
