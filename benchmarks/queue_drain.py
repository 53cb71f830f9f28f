"""Queue drain: photos queued while the only worker is stopped, then drained by it.

    python -m benchmarks.queue_drain --photos 300 --rounds 3

One stack (redis-server, `digitbot bot`, `digitbot worker --processes 1`, the stand-in Bot
API), started once and warmed up. A drain: stop the worker (SIGSTOP), send the photos through
the stand-in and the bot until all are queued, let the worker go, and time until the stand-in
has received the last answer. Each recognition job reads its one photo; photos/s is what one
worker process sustains when work is waiting.
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

from benchmarks import procfs
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


def drain(stack: Any, photos: Sequence[tuple[bytes, int]], first_chat: int) -> Drain:
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
    say(f"drain of {len(photos)}: {result.photos_per_second:.1f} photos/s")
    return result


def measure(counts: Counts) -> list[Drain]:
    """One stack, warmed up; `counts.rounds` drains of `counts.photos` photos each."""
    from benchmarks.stack import precomputed_photo_sizes, running_stack

    distinct = make_photos()
    photos = [distinct[i % len(distinct)] for i in range(counts.photos)]
    with contextlib.ExitStack() as resources:
        resources.enter_context(precomputed_photo_sizes([data for data, _ in distinct]))
        say("starting redis-server, bot and one worker ...")
        stack = resources.enter_context(running_stack(1))
        warm_up(stack, photos)
        return [drain(stack, photos, 6001 + 100 * n) for n in range(counts.rounds)]


def run(counts: Counts) -> Section:
    drains = measure(counts)
    median = statistics.median(d.photos_per_second for d in drains)
    row = [
        f"{len(drains)} × {counts.photos}",
        sum(d.answered for d in drains), sum(d.duplicated for d in drains),
        sum(d.read_right for d in drains),
        ", ".join(f"{d.photos_per_second:.1f}" for d in drains), median,
        statistics.median(d.worker_cpu_ms_per_photo for d in drains),
    ]  # fmt: skip
    return Section(
        title="One worker draining a queue",
        summary=(
            f"{counts.photos} photos (800×600 JPEGs of MNIST test digits) from {CHATS} chats "
            "queued through the stand-in Bot API and the real bot while the only worker "
            "(`digitbot worker --processes 1`) was stopped; then it was let go and timed until "
            f"the last answer arrived. One job per photo. {counts.rounds} drain(s) on one stack."
        ),
        headers=[
            "drains",
            "answered",
            "dup",
            "read right",
            "photos/s per drain",
            "median photos/s",
            "worker CPU ms/photo",
        ],
        rows=[row],
        notes=[f"one worker drains {median:.1f} photos/s (median)"],
        data={"photos_per_second": median, "drains": [d.__dict__ for d in drains]},
    )


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.queue_drain", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--photos", type=int, default=FULL.photos, help="photos per drain")
    parser.add_argument("--rounds", type=int, default=FULL.rounds, help="drains")
    args = parser.parse_args(argv)
    section = run(Counts(photos=args.photos, rounds=args.rounds))
    print(section.to_markdown())
    print(f"{section.data['photos_per_second']:.1f} photos/s (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
