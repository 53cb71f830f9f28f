"""Where a photo's preprocessing time goes, stage by stage, and cProfile's busiest functions.

    python -m benchmarks.photo_profile                       # 1280×960 and 4000×3000 JPEGs
    python -m benchmarks.photo_profile --photo "640×480 JPEG" --repeats 50 --top 30
    python -m benchmarks.photo_profile --baseline 35d6d5b    # that commit's, then the checkout's

Each stage function of `reading` is wrapped by a timer for the run (its time includes the
stages it calls), so the table says how much of `preprocess` each stage takes. OpenCV runs on
DIGITBOT_COMPUTE_THREADS threads, as in a worker.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import importlib
import io
import os
import pstats
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from benchmarks import baseline

# (module, function): the stages of `preprocess`, outermost first. A function that a module
# imported by name is timed where it is called from, so both places are listed.
STAGES = (
    ("reading.preprocess", "preprocess"),
    ("reading.preprocess", "decode_image"),
    ("reading.preprocess", "preprocess_array"),
    ("reading.preprocess", "_to_working_size"),
    ("reading.preprocess", "find_ink_clean"),
    ("reading.preprocess", "find_ink"),
    ("reading.preprocess_ink", "is_dark_ink"),
    ("reading.preprocess_ink", "_block_reduce"),  # before issue 20
    ("reading.preprocess_ink", "_block_max"),  # after
    ("reading.preprocess_ink", "estimate_background"),
    ("reading.preprocess_ink", "flatten"),
    ("reading.preprocess_ink", "_median_and_noise"),
    ("reading.preprocess_ink", "hysteresis"),
    ("reading.preprocess_ink", "find_ruled_lines"),
    ("reading.preprocess_ink", "heal_line_cuts"),
    ("reading.preprocess", "_stages"),
    ("reading.preprocess", "segment_digits"),
    ("reading.preprocess", "_digit_mask"),
    ("reading.preprocess", "to_mnist"),
    ("reading.preprocess", "cut_candidates"),
)
DEFAULT_PHOTOS = ("1280×960 JPEG", "4000×3000 JPEG")
DEFAULT_REPEATS = 30
DEFAULT_TOP = 20


@contextlib.contextmanager
def timed_stages(totals: dict[str, float], counts: dict[str, int]) -> Iterator[None]:
    """Wrap every stage in STAGES with a timer that adds to `totals` (seconds) and `counts`."""
    originals: list[tuple[Any, str, Any]] = []
    for module_name, name in STAGES:
        module = importlib.import_module(module_name)
        function = getattr(module, name, None)
        if function is None:
            continue  # a stage this version of the code does not have
        label = f"{module_name.rsplit('.', 1)[-1]}.{name}"
        originals.append((module, name, function))
        setattr(module, name, _timer(function, label, totals, counts))
    try:
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def _timer(
    function: Callable[..., Any], label: str, totals: dict[str, float], counts: dict[str, int]
) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            totals[label] += time.perf_counter() - started
            counts[label] += 1

    return wrapper


def profile_photos(photos: Sequence[bytes], repeats: int, top: int) -> str:
    """The stage table and cProfile's `top` functions by own time, as text."""
    import reading.preprocess as stages  # looked up at each call, so the timers apply

    for data in photos:  # warm-up: imports, first-call costs
        stages.preprocess(data)
    totals: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    with timed_stages(totals, counts):
        for _ in range(repeats):
            for data in photos:
                stages.preprocess(data)
    calls = repeats * len(photos)
    whole = totals["preprocess.preprocess"]
    lines = [f"{'stage':36s} {'ms/photo':>9s} {'share':>6s} {'calls/photo':>11s}"]
    for label, seconds in totals.items():
        lines.append(
            f"{label:36s} {1000 * seconds / calls:9.2f} {100 * seconds / whole:5.0f}% "
            f"{counts[label] / calls:11.1f}"
        )
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(max(1, repeats // 3)):
        for data in photos:
            stages.preprocess(data)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    lines += ["", "cProfile, by own time:", *_profile_rows(text.getvalue())]
    return "\n".join(lines)


def _profile_rows(report: str) -> list[str]:
    rows = report.splitlines()
    start = next((i for i, row in enumerate(rows) if row.lstrip().startswith("ncalls")), 0)
    return [row for row in rows[start:] if row.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.photo_decode import PHOTO_KINDS, make_photos

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.photo_profile", description=__doc__.split("\n\n")[0]
    )
    labels = [kind.label for kind in PHOTO_KINDS]
    parser.add_argument("--photo", action="append", choices=labels, help="photo kind (repeat)")
    parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
    parser.add_argument("--top", type=int, default=DEFAULT_TOP)
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="REV",
        help="first profile the reading library of git revision REV (e.g. "
        f"{baseline.BASELINE_REVISION}, the one before OpenCV), then the checkout's",
    )
    args = parser.parse_args(argv)
    if args.baseline:
        rest = [a for a in (argv if argv is not None else sys.argv[1:]) if a != args.baseline]
        rest = [a for a in rest if a != "--baseline" and not a.startswith("--baseline=")]
        print(f"#### before: the reading library at {baseline.describe(args.baseline)}", flush=True)
        env = {**os.environ, **baseline.environment(baseline.prepare(args.baseline))}
        command = [sys.executable, "-m", "benchmarks.photo_profile", *rest]
        subprocess.run(command, cwd=baseline.REPO_ROOT, env=env, check=True)
        print("#### after: the checkout", flush=True)
    import cv2

    from digitbot.settings import Settings

    cv2.setNumThreads(Settings.from_env().compute_threads)  # as in a worker process
    kinds = {kind.label: kind for kind in PHOTO_KINDS}
    for label in args.photo or DEFAULT_PHOTOS:
        photos = [data for data, _ in make_photos(kinds[label])]
        print(f"== {label}: preprocess (decode included), {args.repeats} × {len(photos)} photos")
        print(profile_photos(photos, args.repeats, args.top), end="\n\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
