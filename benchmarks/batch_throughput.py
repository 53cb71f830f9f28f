"""Batching throughput: photos queued while the worker is stopped, then drained by one worker,
with batching on (the worker's device batch size) and off (`DIGITBOT_INFERENCE_BATCH=1`).

    python -m benchmarks.batch_throughput --photos 300 --rounds 3

One stack per setting (redis-server, `digitbot bot`, `digitbot worker --processes 1`, the
stand-in Bot API), both started up front and warmed up. Each round drains once on each stack,
in turn, so a machine whose load changes meanwhile treats both settings alike. A drain: stop
the worker (SIGSTOP), send the photos through the stand-in and the bot until all are queued, let
the worker go, and time until the stand-in has received the last answer.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Setting:
    name: str
    env: dict[str, str]  # added to the stack's environment


SETTINGS = (
    Setting("batching on", {}),
    Setting("batching off", {"DIGITBOT_INFERENCE_BATCH": "1"}),
)


@dataclass
class Drain:
    """One drain of the queued photos by one worker."""

    setting: str
    photos: int
    answered: int = 0
    duplicated: int = 0
    read_right: int = 0
    seconds: float = float("nan")  # worker let go -> last answer
    worker_cpu_seconds: float = float("nan")
    batch_sizes: dict[int, int] = field(default_factory=dict)  # size -> how many batches

    @property
    def photos_per_second(self) -> float:
        return ratio(self.answered, self.seconds)

    @property
    def worker_cpu_ms_per_photo(self) -> float:
        return 1000 * ratio(self.worker_cpu_seconds, self.answered)

    @property
    def mean_batch(self) -> float:
        photos = sum(size * count for size, count in self.batch_sizes.items())
        return ratio(photos, sum(self.batch_sizes.values()))


def batch_counts(connection: redis.Redis) -> dict[int, int]:
    """The shared `batches:<size>` counters the workers keep."""
    from digitbot import stats

    return {
        int(name.split(":", 1)[1]): count
        for name, count in stats.read_counters(connection).items()
        if name.startswith("batches:")
    }


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
    stack: Any, setting: Setting, photos: Sequence[tuple[bytes, int]], first_chat: int
) -> Drain:
    """Queue `photos` while the worker is stopped, let it go, time until all are answered."""
    standin = stack.standin
    connection = redis.Redis.from_url(stack.redis_server.url)
    before_batches = batch_counts(connection)
    stack.pause_workers()
    sent = {}
    for index, (data, label) in enumerate(photos):
        chat_id = first_chat + index % CHATS
        sent[(chat_id, standin.user_sends_photo(chat_id, data))] = label
    wait_until(lambda: queued(connection) >= len(photos), QUEUE_TIMEOUT_SECONDS, "the queue")
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
    after_batches = batch_counts(connection)
    connection.close()
    mine = {key: answers[key] for key in sent if key in answers}
    result = Drain(
        setting.name,
        len(photos),
        answered=len(mine),
        duplicated=sum(len(found) - 1 for found in mine.values()),
        read_right=sum(found[0][1].startswith(f"{sent[key]} ") for key, found in mine.items()),
        seconds=max(t for found in mine.values() for t, _ in found) - started,
        worker_cpu_seconds=cpu_after - cpu_before,
        batch_sizes={
            size: count - before_batches.get(size, 0)
            for size, count in after_batches.items()
            if count > before_batches.get(size, 0)
        },
    )
    say(f"{setting.name}: {result.photos_per_second:.1f} photos/s")
    return result


def measure(counts: Counts) -> list[list[Drain]]:
    """Both stacks up at once; each round drains on each in turn. Returns drains per setting."""
    from benchmarks.stack import precomputed_photo_sizes, running_stack

    distinct = make_photos()
    photos = [distinct[i % len(distinct)] for i in range(counts.photos)]
    drains: list[list[Drain]] = [[] for _ in SETTINGS]
    with contextlib.ExitStack() as resources:
        resources.enter_context(precomputed_photo_sizes([data for data, _ in distinct]))
        stacks = []
        for setting in SETTINGS:
            say(f"{setting.name}: starting redis-server, bot and one worker ...")
            stack = resources.enter_context(running_stack(1, extra_env=setting.env))
            warm_up(stack, photos)
            stack.pause_workers()  # idle while the other stack drains
            stacks.append(stack)
        for round_index in range(counts.rounds):
            for index, (setting, stack) in enumerate(zip(SETTINGS, stacks, strict=True)):
                stack.resume_workers()
                first_chat = 6001 + 100 * round_index
                drains[index].append(drain(stack, setting, photos, first_chat))
                stack.pause_workers()
        for stack in stacks:
            stack.resume_workers()
    return drains


def run(counts: Counts) -> Section:
    drains = measure(counts)
    medians = [statistics.median(d.photos_per_second for d in runs) for runs in drains]
    rows = []
    for setting, runs, median in zip(SETTINGS, drains, medians, strict=True):
        sizes: dict[int, int] = {}
        for run_ in runs:
            for size, count in run_.batch_sizes.items():
                sizes[size] = sizes.get(size, 0) + count
        rows.append([
            setting.name, f"{len(runs)} × {counts.photos}",
            sum(r.answered for r in runs), sum(r.duplicated for r in runs),
            sum(r.read_right for r in runs),
            ", ".join(f"{r.photos_per_second:.1f}" for r in runs), median,
            statistics.median(r.worker_cpu_ms_per_photo for r in runs),
            ratio(sum(s * n for s, n in sizes.items()), sum(sizes.values())), max(sizes, default=0),
        ])  # fmt: skip
    speedups = [
        ratio(on.photos_per_second, off.photos_per_second)
        for on, off in zip(drains[0], drains[1], strict=True)
    ]
    return Section(
        title="Batching: one worker draining a queue",
        summary=(
            f"{counts.photos} photos (800×600 JPEGs of MNIST test digits) from {CHATS} chats "
            "queued through the stand-in Bot API and the real bot while the only worker "
            "(`digitbot worker --processes 1`) was stopped; then it was let go and timed until "
            "the last answer arrived. Batching on: up to the device's batch size "
            "(`DIGITBOT_INFERENCE_BATCH`, 16 on CPU) per model call, within the read budget; "
            "off: `DIGITBOT_INFERENCE_BATCH=1`. One stack per setting, both up at once; each "
            f"of {counts.rounds} round(s) drains once on each, in turn."
        ),
        headers=[
            "setting",
            "drains",
            "answered",
            "dup",
            "read right",
            "photos/s per drain",
            "median photos/s",
            "worker CPU ms/photo",
            "mean batch",
            "largest batch",
        ],  # fmt: skip
        rows=rows,
        notes=[
            f"batching on drains {ratio(medians[0], medians[1]):.2f}× as fast as off "
            f"(median {medians[0]:.1f} vs {medians[1]:.1f} photos/s; per round "
            + ", ".join(f"{s:.2f}×" for s in speedups)
            + ")",
        ],
        data={
            "speedup": ratio(medians[0], medians[1]),
            "drains": [d.__dict__ for runs in drains for d in runs],
        },
    )


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.batch_throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--photos", type=int, default=FULL.photos, help="photos per drain")
    parser.add_argument("--rounds", type=int, default=FULL.rounds, help="drains per setting")
    args = parser.parse_args(argv)
    section = run(Counts(photos=args.photos, rounds=args.rounds))
    print(section.to_markdown())
    for row in section.rows:
        print(f"{row[0]}: {row[6]:.1f} photos/s (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
