"""Load test with a fault script: photos at a steady rate while the stack is broken on purpose.

    python -m benchmarks.loadtest --faults --rate 20 --workers 2 --json faults.json

One stack (redis-server, `digitbot bot`, `digitbot worker --processes N`, the stand-in Bot API),
warmed up, then one phase per fault, in turn: a worker SIGKILLed, the bot SIGKILLed (and started
again at once), Redis stopped for 10 s, the Bot API down for 60 s (every method and download
answers 502). Each phase sends photos open-loop from chats of its own for `--phase-seconds`
(longer for a long fault), the fault strikes `--fault-at` seconds in, and the phase is counted
once every photo has a reply and the stack is quiet (tests.support.quiet), or after
`--drain-timeout`. Each photo is counted once: answered (a worker's answer), told to resend (only
replies asking to send it again), lost (no reply at all); twice counts photos with more than one
reply. Numbers, not a verdict: the exit status says only whether none was lost or answered twice.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks.load_report import LoadPlan
from benchmarks.loadtest import (
    FIRST_CHAT_ID,
    Answers,
    SentPhoto,
    collect_answers,
    make_photos,
    say,
    send_on_schedule,
    warm_up,
)
from benchmarks.report import markdown_table
from benchmarks.stats import summarize_latencies
from digitbot import texts

DEFAULT_PHASE_SECONDS = 30.0
DEFAULT_FAULT_AT_SECONDS = 5.0
DEFAULT_FAULT_DRAIN_SECONDS = 300.0
REDIS_DOWN_SECONDS = 10.0
BOT_API_DOWN_SECONDS = 60.0
CHATS_PER_PHASE = 1000  # phase k's chats start at FIRST_CHAT_ID + k * CHATS_PER_PHASE
# Replies that ask the user to send the photo again: the photo was not read.
RESEND_TEXTS = frozenset(
    {texts.QUEUE_DOWN, texts.DOWNLOAD_FAILED, texts.BUSY, texts.SLOW_DOWN, texts.INTERNAL_ERROR,
     texts.JOB_FAILED, texts.LOST_PHOTO}
)  # fmt: skip
SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Fault:
    """What breaks (`strike`), for how long, and how it ends (`recover`, None when it ends by
    itself: a supervisor restarts a killed worker)."""

    name: str
    strike: Callable[[Any], None]
    seconds: float = 0.0
    recover: Callable[[Any], None] | None = None


@dataclass
class FaultCounts:
    """One phase's photos, each counted once, and the latency of those answered."""

    fault: str
    sent: int
    answered: int
    twice: int
    lost: int
    told_to_resend: int
    p50_ms: float
    p95_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def kill_a_worker(stack: Any) -> None:
    pids = stack.worker_pids()
    os.kill(pids[0], signal.SIGKILL)
    say(f"  killed worker pid {pids[0]}")


def kill_the_bot(stack: Any) -> None:
    os.killpg(stack.bot.pid, signal.SIGKILL)
    assert stack.bot.process is not None
    stack.bot.process.wait()
    say(f"  killed the bot (pid {stack.bot.pid}); starting it again")
    stack.restart_bot(f"bot-after-kill-{int(time.time())}")


def fault_script() -> list[Fault]:
    """The faults, in the order they strike."""
    return [
        Fault("worker killed (SIGKILL)", kill_a_worker),
        Fault("bot killed (SIGKILL), started again", kill_the_bot),
        Fault(
            f"Redis stopped {REDIS_DOWN_SECONDS:g} s",
            lambda stack: stack.redis_server.stop(),
            REDIS_DOWN_SECONDS,
            lambda stack: stack.redis_server.start(),
        ),
        Fault(
            f"Bot API down {BOT_API_DOWN_SECONDS:g} s (502)",
            lambda stack: stack.standin.start_outage(),
            BOT_API_DOWN_SECONDS,
            lambda stack: stack.standin.end_outage(),
        ),
    ]


def count_outcomes(fault: str, sent: Sequence[SentPhoto], answers: Answers) -> FaultCounts:
    """Each sent photo as answered, told to resend or lost; twice: more than one reply (pure)."""
    answered = twice = lost = resend = 0
    latencies = []
    for photo in sent:
        replies = sorted(answers.get((photo.chat_id, photo.message_id), []))
        twice += len(replies) > 1
        if not replies:
            lost += 1
        elif all(body in RESEND_TEXTS for _, body in replies):
            resend += 1
        else:
            answered += 1
            first = next(t for t, body in replies if body not in RESEND_TEXTS)
            latencies.append(first - photo.update_time)
    latency = summarize_latencies(latencies)
    return FaultCounts(
        fault, len(sent), answered, twice, lost, resend, latency.p50_ms, latency.p95_ms,
        latency.max_ms,
    )  # fmt: skip


def strike(stack: Any, fault: Fault, after: float) -> None:
    """Run the fault `after` seconds from now, in this thread: a redis-server started again
    dies with the thread that started it (digitbot.procutil.die_with_parent), so that must be
    the main one, and photos are sent from another."""
    time.sleep(after)
    say(f"  fault: {fault.name}")
    fault.strike(stack)
    if fault.recover is not None:
        time.sleep(fault.seconds)
        fault.recover(stack)
        say(f"  fault over: {fault.name}")


def wait_until_settled(stack: Any, sent: Sequence[SentPhoto], timeout: float) -> None:
    """Until every photo has a reply and the stack is quiet, or `timeout` seconds."""
    import redis

    from tests.support.quiet import still_busy

    wanted = {(p.chat_id, p.message_id) for p in sent}
    chats = {p.chat_id for p in sent}
    deadline = time.monotonic() + timeout
    busy: list[str] = ["not looked yet"]
    while time.monotonic() < deadline:
        if wanted <= collect_answers(stack.standin, chats).keys():
            try:
                with redis.Redis.from_url(stack.redis_server.url) as connection:
                    busy = still_busy(connection, stack.standin, chats)
            except redis.exceptions.RedisError as exc:
                busy = [f"Redis: {exc}"]
            if not busy:
                return
        time.sleep(0.2)
    say(f"  not settled after {timeout:.0f} s: {busy}")


def run_phase(
    stack: Any,
    index: int,
    fault: Fault,
    photos: Sequence[tuple[bytes, int]],
    plan: LoadPlan,
    fault_at: float,
) -> FaultCounts:
    """Send one phase's photos with `fault` striking `fault_at` seconds in; count them."""
    duration = max(plan.duration, fault_at + fault.seconds + 10.0)
    phase = LoadPlan(plan.rate, duration, plan.users, plan.drain_timeout)
    first_chat = FIRST_CHAT_ID + (index + 1) * CHATS_PER_PHASE
    say(f"phase {index + 1}: {phase.num_photos} photos over {duration:g} s; {fault.name}")
    sent: list[SentPhoto] = []
    sender = threading.Thread(
        target=lambda: sent.extend(
            send_on_schedule(stack.standin, photos, phase, first_chat=first_chat)
        ),
        name="sender",
    )
    sender.start()
    try:
        strike(stack, fault, fault_at)
    finally:
        sender.join()
    wait_until_settled(stack, sent, plan.drain_timeout)
    time.sleep(SETTLE_SECONDS)  # a late second reply would show up now
    answers = collect_answers(stack.standin, {p.chat_id for p in sent})
    counts = count_outcomes(fault.name, sent, answers)
    say(
        f"  sent {counts.sent}, answered {counts.answered}, twice {counts.twice}, "
        f"lost {counts.lost}, told to resend {counts.told_to_resend}"
    )
    return counts


def run_faults(args: argparse.Namespace) -> dict[str, Any]:
    """The whole fault script on one stack; the --json document."""
    from benchmarks.machine import describe_machine
    from benchmarks.stack import precomputed_photo_sizes, running_stack

    workers = args.workers[0]
    plan = LoadPlan(args.rate, args.phase_seconds, args.users, args.drain_timeout)
    photos = make_photos(min(100, plan.num_photos))
    results = []
    with (
        precomputed_photo_sizes([data for data, _ in photos]),
        running_stack(workers, keep_logs=args.keep_logs) as stack,
    ):
        warm_up(stack.standin, photos[: 2 * workers], plan)
        for index, fault in enumerate(fault_script()):
            results.append(run_phase(stack, index, fault, photos, plan, args.fault_at))
    return {
        "machine": describe_machine().as_dict(),
        "plan": {**asdict(plan), "workers": workers, "fault_at": args.fault_at},
        "faults": [r.as_dict() for r in results],
    }


FAULT_HEADERS = ["fault", "sent", "answered", "twice", "lost", "told to resend", "p50 ms",
                 "p95 ms", "max ms"]  # fmt: skip


def fault_table(document: dict[str, Any]) -> str:
    rows = [
        [f["fault"], f["sent"], f["answered"], f["twice"], f["lost"], f["told_to_resend"],
         _whole(f["p50_ms"]), _whole(f["p95_ms"]), _whole(f["max_ms"])]
        for f in document["faults"]
    ]  # fmt: skip
    return markdown_table(FAULT_HEADERS, rows)


def _whole(value: float) -> int | None:
    return None if value != value else round(value)  # NaN -> "–"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--faults",
        action="store_true",
        help="run the fault script on one stack (the first --workers count) instead",
    )
    parser.add_argument(
        "--phase-seconds",
        type=float,
        default=DEFAULT_PHASE_SECONDS,
        help="seconds of sending per fault, at least the fault's length + 10 (default 30)",
    )
    parser.add_argument(
        "--fault-at",
        type=float,
        default=DEFAULT_FAULT_AT_SECONDS,
        help="seconds into each phase at which its fault strikes (default 5)",
    )
