"""`python -m bench [SCENARIO ...] [--profile] [--keep]`: run the benchmarks, write the results."""

from __future__ import annotations

import argparse
import sys

from bench.runner import SCENARIOS, run


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen scenarios (all by default)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help=f"any of: {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the main phase of each")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    parser.add_argument(
        "--memory-cap-s", type=float, help="run the memory scenario this long (900: all 10,000)"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    return run(
        args.scenarios or list(SCENARIOS),
        profile=args.profile,
        keep=args.keep,
        memory_cap_s=args.memory_cap_s,
    )


if __name__ == "__main__":
    sys.exit(main())
