"""Queue drain: photos queued while the only worker is stopped, then drained by it.

    python -m benchmarks.queue_drain --photos 300 --rounds 3
    python -m benchmarks.queue_drain --baseline none      # the checkout only

Two stacks (redis-server, `digitbot bot`, `digitbot worker --processes 1`, the stand-in Bot
API), started once and warmed up: one reading photos with the checkout's reading library
("after"), one with the baseline commit's ("before", `benchmarks.baseline`). A drain: stop the
worker (SIGSTOP), send the photos through the stand-in and the bot until all are queued, let
the worker go, and time until the stand-in has received the last answer. The stacks take
turns, one drain each per round. Each recognition job reads its one photo; photos/s is what
one worker process sustains when work is waiting.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from benchmarks import baseline, paired, procfs
from benchmarks.loadtest import collect_answers, make_photos
from benchmarks.report import Section
from benchmarks.stats import ratio

WARMUP_CHAT_ID = 5999
WARMUP_PHOTOS = 4
CHATS = 10
SETTLE_SECONDS = 1.5
QUEUE_TIMEOUT_SECONDS = 120.0
DRAIN_TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 0.02
QUEUE_KEYS = ("rq:queue:recognition", "rq:queue:recognition:intermediate")
# Bar (issue 20): the checkout's worker drains at least this many times as fast as before.
BAR_SPEEDUP = 2.5


@dataclass(frozen=True)
class Counts:
    photos: int
    rounds: int


FULL = Counts(photos=300, rounds=3)
QUICK = Counts(photos=60, rounds=1)


@dataclass
class Drain:
    """One drain of the queued photos by one worker."""

    photos: int
    answered: int = 0
    duplicated: int = 0
    read_right: int = 0
    seconds: float = float("nan")  # worker let go -> last answer
    worker_cpu_seconds: float = float("nan")

    @property
    def photos_per_second(self) -> float:
        return ratio(self.answered, self.seconds)

    @property
    def worker_cpu_ms_per_photo(self) -> float:
        return 1000 * ratio(self.worker_cpu_seconds, self.answered)


def queued(connection: redis.Redis) -> int:
    return sum(int(connection.llen(key)) for key in QUEUE_KEYS)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def warm_up(stack: Any, photos: Sequence[tuple[bytes, int]]) -> None:
    """A few untimed photos, so first-use costs (imports, connections) stay out of the drains."""
    standin = stack.standin
    sent = [standin.user_sends_photo(WARMUP_CHAT_ID, data) for data, _ in photos[:WARMUP_PHOTOS]]
    wait_until(
        lambda: len(collect_answers(standin, {WARMUP_CHAT_ID})) >= len(sent),
        DRAIN_TIMEOUT_SECONDS,
        "the warm-up answers",
    )


def drain(
    stack: Any, photos: Sequence[tuple[bytes, int]], first_chat: int, version: str = ""
) -> Drain:
    """Queue `photos` while the worker is stopped, let it go, time until all are answered."""
    standin = stack.standin
    connection = redis.Redis.from_url(stack.redis_server.url)
    stack.pause_workers()
    sent = {}
    for index, (data, label) in enumerate(photos):
        chat_id = first_chat + index % CHATS
        sent[(chat_id, standin.user_sends_photo(chat_id, data))] = label
    wait_until(lambda: queued(connection) >= len(photos), QUEUE_TIMEOUT_SECONDS, "the queue")
    connection.close()
    worker_pids = stack.worker_pids()
    cpu_before = sum(procfs.cpu_seconds(pid) or 0.0 for pid in worker_pids)
    started = time.monotonic()
    stack.resume_workers()
    chats = {chat for chat, _ in sent}
    wait_until(
        lambda: sent.keys() <= collect_answers(standin, chats).keys(),
        DRAIN_TIMEOUT_SECONDS,
        "every answer",
    )
    cpu_after = sum(procfs.cpu_seconds(pid) or 0.0 for pid in worker_pids)
    time.sleep(SETTLE_SECONDS)  # a second answer to the same photo would show up now
    answers = collect_answers(standin, chats)
    mine = {key: answers[key] for key in sent if key in answers}
    result = Drain(
        len(photos),
        answered=len(mine),
        duplicated=sum(len(found) - 1 for found in mine.values()),
        read_right=sum(found[0][1].startswith(f"{sent[key]} ") for key, found in mine.items()),
        seconds=max(t for found in mine.values() for t, _ in found) - started,
        worker_cpu_seconds=cpu_after - cpu_before,
    )
    say(f"drain of {len(photos)}: {result.photos_per_second:.1f} photos/s ({version})")
    return result


def measure(counts: Counts, revision: str | None) -> dict[str, list[Drain]]:
    """{version: drains}: a stack per version (the baseline's unless `revision` is None),
    warmed up; `counts.rounds` drains of `counts.photos` photos each, the stacks in turns."""
    from benchmarks.stack import precomputed_photo_sizes, running_stack

    folder = baseline.prepare(revision) if revision else None
    distinct = make_photos()
    photos = [distinct[i % len(distinct)] for i in range(counts.photos)]
    with contextlib.ExitStack() as resources:
        resources.enter_context(precomputed_photo_sizes([data for data, _ in distinct]))
        stacks = {}
        for name, env in ((paired.AFTER, None), (paired.BEFORE, baseline.environment(folder))):
            if name == paired.BEFORE and folder is None:
                continue
            say(f"starting redis-server, bot and one worker ({name}) ...")
            stacks[name] = resources.enter_context(running_stack(1, extra_env=env))
            warm_up(stacks[name], photos)
        drains: dict[str, list[Drain]] = {name: [] for name in stacks}
        for number in range(counts.rounds):
            for name in paired.in_turns(list(stacks), number):
                drains[name].append(drain(stacks[name], photos, 6001 + 100 * number, name))
        return drains


def run(counts: Counts, revision: str | None = baseline.BASELINE_REVISION) -> Section:
    notes: list[str] = []
    try:
        drains = measure(counts, revision)
    except baseline.BaselineError as exc:
        notes.append(f"before: not measured ({exc})")
        revision = None
        drains = measure(counts, None)
    medians = {
        name: statistics.median(d.photos_per_second for d in ds) for name, ds in drains.items()
    }
    rows = []
    for name in (paired.BEFORE, paired.AFTER):
        if name not in drains:
            continue
        mine = drains[name]
        rows.append([
            name, f"{len(mine)} × {counts.photos}",
            sum(d.answered for d in mine), sum(d.duplicated for d in mine),
            sum(d.read_right for d in mine),
            ", ".join(f"{d.photos_per_second:.1f}" for d in mine), medians[name],
            statistics.median(d.worker_cpu_ms_per_photo for d in mine),
        ])  # fmt: skip
    after = medians[paired.AFTER]
    if paired.BEFORE in medians:
        speedup = ratio(after, medians[paired.BEFORE])
        verdict = "meets" if speedup >= BAR_SPEEDUP else "misses"
        notes.append(
            f"one worker drains {after:.1f} photos/s (median), {speedup:.2f}× before "
            f"({medians[paired.BEFORE]:.1f}) — {verdict} the bar (≥ {BAR_SPEEDUP:g}×)"
        )
    else:
        notes.append(f"one worker drains {after:.1f} photos/s (median)")
    before = (
        f"before: the reading library at {baseline.describe(revision)}, after: the checkout; "
        if revision
        else ""
    )
    return Section(
        title="One worker draining a queue",
        summary=(
            f"{counts.photos} photos (800×600 JPEGs of MNIST test digits) from {CHATS} chats "
            "queued through the stand-in Bot API and the real bot while the only worker "
            "(`digitbot worker --processes 1`) was stopped; then it was let go and timed until "
            f"the last answer arrived. One job per photo. {before}a stack per version, "
            f"{counts.rounds} drain(s) each, the stacks taking turns. "
            "Command: `python -m benchmarks --only drain`."
        ),
        headers=[
            "version",
            "drains",
            "answered",
            "dup",
            "read right",
            "photos/s per drain",
            "median photos/s",
            "worker CPU ms/photo",
        ],
        rows=rows,
        notes=notes,
        data={
            "photos_per_second": after,
            "medians": medians,
            "baseline": revision,
            "drains": {name: [d.__dict__ for d in ds] for name, ds in drains.items()},
        },
    )


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.queue_drain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--photos", type=int, default=FULL.photos, help="photos per drain")
    parser.add_argument("--rounds", type=int, default=FULL.rounds, help="drains per version")
    parser.add_argument(
        "--baseline",
        default=baseline.BASELINE_REVISION,
        help="git revision of the 'before' reading library ('none': the checkout only)",
    )
    args = parser.parse_args(argv)
    revision = None if args.baseline == "none" else args.baseline
    section = run(Counts(photos=args.photos, rounds=args.rounds), revision)
    print(section.to_markdown())
    print(f"{section.data['photos_per_second']:.1f} photos/s (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
