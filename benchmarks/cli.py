"""`digitbot bench`: the benchmark suite as a sub-command of the digitbot CLI.

`digitbot.cli` adds it with `add_bench_parser(sub)` and dispatches to `run_bench(args)`.
The benchmarks use the test support code (stand-in Bot API, test photos), so they run from a
checkout of the repository; an installed `digitbot` finds this package only when `benchmarks*`
is among the packages pyproject.toml installs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `bench` to an argparse subparsers object and return its parser."""
    from benchmarks.suite import add_arguments

    parser = subparsers.add_parser(
        "bench",
        help="run the benchmarks (model, photos, jobs, training, load test)",
        description="Run digitbot's benchmarks and optionally write BENCHMARKS.md.",
    )
    add_arguments(parser)
    return parser


def run_bench(args: argparse.Namespace) -> int:
    """Run the parsed `bench` command; return the process exit status."""
    # The console script's sys.path holds the installed packages only; the benchmarks also
    # need `tests.support` from the checkout this package lives in.
    repo_root = str(Path(__file__).resolve().parents[1])
    if repo_root not in sys.path:
        sys.path.append(repo_root)
    from benchmarks.suite import run_suite

    argv = sys.argv[sys.argv.index("bench") + 1 :] if "bench" in sys.argv else []
    return run_suite(args, argv)
