"""`genjobs`: submit generation jobs, watch their progress, fetch their results.

    genjobs image "a red lighthouse" --wait --output out/
    genjobs script novel.txt --episodes 3 --wait --output out/
    genjobs tryon me.jpg coat.png --occasion "job interview" --wait --output out/
    genjobs list | get ID | watch ID | cancel ID | retry ID | download ID --output DIR

Exit codes (see EXIT_CODES): 0 done, 1 job failed, 2 bad usage or input, 3 timed out,
4 bad API key, 5 not found, 6 service unavailable, 7 over quota, 8 job canceled,
9 conflict (e.g. cancelling a finished job), 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from genjobs_client import commands
from genjobs_client.config import ConfigError
from genjobs_client.errors import (
    ApiError,
    AuthError,
    Conflict,
    GenjobsError,
    InvalidRequest,
    JobCanceled,
    JobFailed,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
    WaitTimeout,
)

EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_AUTH = 4
EXIT_NOT_FOUND = 5
EXIT_UNAVAILABLE = 6
EXIT_QUOTA = 7
EXIT_CANCELED = 8
EXIT_CONFLICT = 9
EXIT_INTERRUPTED = 130

EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (JobCanceled, EXIT_CANCELED),  # before JobFailed, its base class
    (JobFailed, EXIT_JOB_FAILED),
    (WaitTimeout, EXIT_TIMEOUT),
    (AuthError, EXIT_AUTH),
    (NotFound, EXIT_NOT_FOUND),
    (ServiceUnavailable, EXIT_UNAVAILABLE),
    (QuotaExceeded, EXIT_QUOTA),
    (Conflict, EXIT_CONFLICT),
    (InvalidRequest, EXIT_USAGE),
    (ConfigError, EXIT_USAGE),
    (ApiError, EXIT_UNAVAILABLE),
)
"""Exception -> exit code, most specific first."""


def exit_code_for(exc: Exception) -> int:
    """The exit code that reports this exception."""
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return EXIT_JOB_FAILED


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", help="service base URL (default: $GENJOBS_URL or local)")
    common.add_argument("--api-key", help="API key (default: $GENJOBS_API_KEY)")
    common.add_argument("--json", action="store_true", help="print JSON on stdout, no progress")
    common.add_argument(
        "--timeout", type=float, default=600.0, metavar="S", help="give up waiting after S s"
    )
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="wait for the job, showing progress")
    waiting.add_argument(
        "--output", metavar="DIR", help="save the result files here (implies --wait)"
    )
    submitting = argparse.ArgumentParser(add_help=False, parents=[common, waiting])
    submitting.add_argument("--priority", choices=("high", "default", "low"))

    parser = argparse.ArgumentParser(
        prog="genjobs",
        description="Submit and follow genjobs generation jobs.",
        epilog=__doc__.split("\n\n", 2)[2] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    image = sub.add_parser("image", parents=[submitting], help="generate an image from a prompt")
    image.add_argument("prompt")
    image.add_argument("--size", help="e.g. 1024x1024")
    image.add_argument("--quality", choices=("auto", "low", "medium", "high"))
    image.set_defaults(run=commands.submit_image)

    script = sub.add_parser("script", parents=[submitting], help="a screenplay from a .txt novel")
    script.add_argument("file", metavar="FILE.txt")
    script.add_argument("--style")
    script.add_argument("--episodes", type=int)
    script.add_argument("--language")
    script.set_defaults(run=commands.submit_script)

    tryon = sub.add_parser("tryon", parents=[submitting], help="try a garment on a person")
    tryon.add_argument("human", metavar="HUMAN_IMAGE")
    tryon.add_argument("garment", metavar="GARMENT_IMAGE")
    tryon.add_argument("--occasion", required=True)
    tryon.set_defaults(run=commands.submit_tryon)

    listing = sub.add_parser("list", parents=[common], help="your jobs, newest first")
    listing.add_argument(
        "--status", choices=("pending", "processing", "completed", "failed", "canceled")
    )
    listing.add_argument("--kind")
    listing.add_argument("--limit", type=int, default=20)
    listing.set_defaults(run=commands.list_jobs)

    for name, run, text, parents in (
        ("get", commands.get_job, "show one job", [common]),
        ("watch", commands.watch_job, "follow a job until it finishes", [common, waiting]),
        ("cancel", commands.cancel_job, "cancel a job", [common]),
        ("retry", commands.retry_job, "re-run a failed or canceled job", [common, waiting]),
        ("download", commands.download, "save a job's result files", [common]),
    ):
        command = sub.add_parser(name, parents=parents, help=text)
        command.add_argument("job_id", metavar="ID")
        if name == "download":
            command.add_argument("--output", metavar="DIR", default=".")
        command.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except (GenjobsError, ConfigError) as exc:
        print(f"genjobs: {_describe(exc)}", file=sys.stderr)
        return exit_code_for(exc)
    except OSError as exc:
        print(f"genjobs: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("genjobs: interrupted (the job keeps running; `genjobs watch ID`)", file=sys.stderr)
        return EXIT_INTERRUPTED


def _describe(exc: Exception) -> str:
    if isinstance(exc, AuthError):
        return f"authentication failed: {exc.message} (check --api-key / GENJOBS_API_KEY)"
    if isinstance(exc, InvalidRequest) and exc.field:
        return f"invalid {exc.field}: {exc.message}"
    if isinstance(exc, QuotaExceeded) and exc.retry_after_s is not None:
        return f"{exc.message} (try again in {exc.retry_after_s:g} s)"
    if isinstance(exc, ApiError):
        return exc.message
    return str(exc)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
