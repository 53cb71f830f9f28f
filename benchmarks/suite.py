"""The benchmark suite: run each benchmark, print its table, optionally write BENCHMARKS.md.

python -m benchmarks --quick                  # small counts, no training, a minute or two
python -m benchmarks --write BENCHMARKS.md    # full counts and the training run (slow)
python -m benchmarks --only photos,drain --write BENCHMARKS.md   # those sections only
python -m benchmarks --write BENCHMARKS.md --with-load        # and the load test
python -m benchmarks --write BENCHMARKS.md --load-json load.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import load_report, loadtest
from benchmarks.machine import describe_machine
from benchmarks.report import Section, render_document

BENCHMARK_NAMES = ("model", "photos", "jobs", "drain", "training")
QUICK_LOAD_DURATION_SECONDS = 10.0
QUICK_LOAD_WORKERS = [2]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="small counts and no training run (for a quick check)"
    )
    parser.add_argument(
        "--only",
        default=",".join(BENCHMARK_NAMES),
        help=f"comma-separated subset of {','.join(BENCHMARK_NAMES)}",
    )
    parser.add_argument(
        "--write",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the results as Markdown (e.g. BENCHMARKS.md)",
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="FILE", help="write the raw numbers as JSON"
    )
    parser.add_argument(
        "--model", type=Path, default=None, help="a .keras file (default: the shipped model)"
    )
    parser.add_argument(
        "--train-epochs",
        type=int,
        default=None,
        help="epochs of digitnet's one-cycle schedule (default: its recipe)",
    )
    parser.add_argument(
        "--train-limit", type=int, default=None, help="train on the first N images (smoke runs)"
    )
    parser.add_argument("--skip-training", action="store_true", help="do not run training")
    load = parser.add_argument_group("load test")
    load.add_argument(
        "--with-load",
        action="store_true",
        help="also run the load test (python -m benchmarks.loadtest)",
    )
    load.add_argument(
        "--load-json",
        type=Path,
        default=None,
        metavar="FILE",
        help="include a load test result written by `loadtest --json`",
    )
    load.add_argument("--load-rate", type=float, default=load_report.DEFAULT_RATE)
    load.add_argument(
        "--load-duration",
        type=float,
        default=None,
        help=f"seconds (default {load_report.DEFAULT_DURATION_SECONDS:g}, "
        f"--quick {QUICK_LOAD_DURATION_SECONDS:g})",
    )
    load.add_argument(
        "--load-workers",
        type=loadtest.parse_workers,
        default=None,
        help="worker counts (default 1,2,4; --quick 2)",
    )


def selected(args: argparse.Namespace) -> list[str]:
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(names) - set(BENCHMARK_NAMES))
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; expected some of {BENCHMARK_NAMES}")
    return names


def skipped_training(reason: str) -> Section:
    return Section(
        title="Time to train digitnet to 99.5 %",
        summary=f"Not measured in this run ({reason}); run without {reason} to measure it.",
        headers=[],
        rows=[],
        data={"skipped": True},  # --write keeps the section measured last
    )


def benchmark_runners(args: argparse.Namespace) -> dict[str, Callable[[], Section]]:
    """Each benchmark as a call; modules import TensorFlow only when they run."""
    from benchmarks import model_call, photo_decode, queue_drain, queue_jobs, training_time

    quick = args.quick
    return {
        "model": lambda: model_call.run(model_call.QUICK if quick else model_call.FULL, args.model),
        "photos": lambda: photo_decode.run(
            photo_decode.QUICK if quick else photo_decode.FULL, args.model
        ),
        "jobs": lambda: queue_jobs.run(queue_jobs.QUICK if quick else queue_jobs.FULL),
        "drain": lambda: queue_drain.run(queue_drain.QUICK if quick else queue_drain.FULL),
        "training": (
            (lambda: skipped_training("--quick" if quick else "--skip-training"))
            if quick or args.skip_training
            else lambda: training_time.run(args.train_epochs, limit=args.train_limit)
        ),
    }


def run_load_test(args: argparse.Namespace) -> dict[str, Any] | None:
    if args.load_json:
        return json.loads(args.load_json.read_text())
    if not args.with_load:
        return None
    load_args = argparse.Namespace(
        rate=args.load_rate,
        duration=args.load_duration
        or (QUICK_LOAD_DURATION_SECONDS if args.quick else load_report.DEFAULT_DURATION_SECONDS),
        users=load_report.DEFAULT_USERS,
        workers=args.load_workers
        or (QUICK_LOAD_WORKERS if args.quick else list(load_report.DEFAULT_WORKERS)),
        drain_timeout=load_report.DEFAULT_DRAIN_TIMEOUT_SECONDS,
        json=None,
        keep_logs=None,
    )
    return loadtest.run_load(load_args)


def run_suite(args: argparse.Namespace, argv: Sequence[str]) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    machine = describe_machine()
    runners = benchmark_runners(args)
    sections: dict[str, Section] = {}
    for name in selected(args):
        print(f"== {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        section = runners[name]()
        sections[name] = section
        print(section.to_markdown(), flush=True)
        print(f"   ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    load_document = run_load_test(args)
    load_markdown = load_report.markdown_section(load_document) if load_document else None
    if args.write:
        # The sections measured now replace theirs; the rest of the file (the other sections,
        # the last load test, hand-written notes) stays as it was.
        previous = args.write.read_text() if args.write.exists() else None
        measured = {
            name: section
            for name, section in sections.items()
            if previous is None or not section.data.get("skipped")
        }
        command = " ".join(["python -m benchmarks", *argv])
        args.write.write_text(
            render_document(
                machine, measured, load_markdown, command, quick=args.quick, previous=previous
            )
        )
        print(f"wrote {args.write}", file=sys.stderr)
    if args.json:
        raw = {
            "machine": machine.as_dict(),
            "quick": args.quick,
            "benchmarks": {name: section.data for name, section in sections.items()},
            "load": load_document,
        }
        args.json.write_text(json.dumps(raw, indent=2, default=str) + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Run digitbot's benchmarks."
    )
    add_arguments(parser)
    return run_suite(parser.parse_args(argv), argv)
