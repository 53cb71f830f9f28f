"""Load test: simulated users send photos through the stand-in Bot API to the real stack.

    python -m benchmarks.loadtest --rate 20 --duration 30 --users 10 --workers 1,2,4 --json out.json

With `--faults` it runs the fault script instead (benchmarks.fault_load): one stack, one phase per
fault (a worker killed, the bot killed, Redis stopped 10 s, the Bot API down 60 s), and a table of
sent / answered / twice / lost / told to resend per fault:

    python -m benchmarks.loadtest --faults --rate 20 --workers 2 --json faults.json

For each worker count a fresh stack is started (redis-server, `digitbot bot`,
`digitbot worker --processes N`). Photos (phone-like JPEGs of MNIST test digits) are made before
the clock starts and sent open-loop: on schedule, whether or not earlier ones were answered.
Latency is from the moment the stand-in queued the user's update to the moment it received the
answer, both on this process's monotonic clock. Everything stays on loopback and stops by itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from benchmarks import procfs
from benchmarks.load_report import (
    DEFAULT_DRAIN_TIMEOUT_SECONDS,
    DEFAULT_DURATION_SECONDS,
    DEFAULT_RATE,
    DEFAULT_USERS,
    DEFAULT_WORKERS,
    LoadPlan,
    RunResult,
    markdown_section,
    report_document,
)
from benchmarks.report import fmt
from benchmarks.stats import ratio, summarize_latencies

# After the last answer, wait this long for second answers to the same photo.
SETTLE_SECONDS = 1.5
DISTINCT_PHOTOS = 100
FIRST_CHAT_ID = 5001
WARMUP_CHAT_ID = 4999
WARMUP_PHOTOS_PER_WORKER = 2
POLL_SECONDS = 0.05
ANSWER_METHODS = ("sendMessage", "sendPhoto")
STAGES = ("bot", "queue", "worker")


@dataclass(frozen=True)
class SentPhoto:
    chat_id: int
    message_id: int
    label: int
    lag: float  # seconds the send started after its scheduled time
    update_time: float  # stand-in's monotonic time when the update was queued


Answers = dict[tuple[int, int], list[tuple[float, str]]]  # (chat, message) -> [(t, body)]
JobTimes = dict[tuple[int, int], tuple[float, float]]  # (chat, message) -> (enqueued, started)


def make_photos(count: int = DISTINCT_PHOTOS) -> list[tuple[bytes, int]]:
    """Phone-like 800×600 JPEGs of the first `count` MNIST test digits, with their labels."""
    from tests.support.photos import digit_photo, mnist_test_digits

    x_test, y_test = mnist_test_digits()
    return [(digit_photo(x_test[i], seed=i), int(y_test[i])) for i in range(count)]


def send_on_schedule(
    standin: Any,
    photos: Sequence[tuple[bytes, int]],
    plan: LoadPlan,
    *,
    first_chat: int = FIRST_CHAT_ID,
) -> list[SentPhoto]:
    """Send photos open-loop at `plan.rate`, cycling over users (chats from `first_chat` on)
    and photos."""
    sent = []
    started = time.monotonic()
    for index, offset in enumerate(plan.offsets()):
        delay = started + offset - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        lag = time.monotonic() - started - offset
        data, label = photos[index % len(photos)]
        chat_id = first_chat + index % plan.users
        message_id = standin.user_sends_photo(chat_id, data)
        sent.append(
            SentPhoto(chat_id, message_id, label, lag, standin.update_time(chat_id, message_id))
        )
    return sent


def collect_answers(standin: Any, chat_ids: set[int]) -> Answers:
    """Every message that replies to a user's message in these chats, by the message it answers."""
    answers: Answers = {}
    for record in standin.sent():
        if (
            record.method in ANSWER_METHODS
            and record.chat_id in chat_ids
            and record.reply_to_message_id is not None
        ):
            key = (record.chat_id, record.reply_to_message_id)
            answers.setdefault(key, []).append((record.t, record.body))
    return answers


def wait_for_answers(standin: Any, sent: Sequence[SentPhoto], timeout: float) -> Answers:
    """Poll until every sent photo has an answer or `timeout` seconds pass."""
    keys = {(p.chat_id, p.message_id) for p in sent}
    chats = {p.chat_id for p in sent}
    deadline = time.monotonic() + timeout
    while True:
        answers = collect_answers(standin, chats)
        if keys <= answers.keys() or time.monotonic() >= deadline:
            return answers
        time.sleep(POLL_SECONDS)


def analyse(workers: int, sent: Sequence[SentPhoto], answers: Answers) -> RunResult:
    """Count and time the answers to the sent photos (pure: no clocks, no I/O)."""
    latencies = []
    duplicated = read_right = no_digit = 0
    last_answer = float("-inf")
    for photo in sent:
        replies = sorted(answers.get((photo.chat_id, photo.message_id), []))
        if not replies:
            continue
        first_time, body = replies[0]
        latencies.append(first_time - photo.update_time)
        last_answer = max(last_answer, first_time)
        duplicated += len(replies) > 1
        first_word = body.split(" ", 1)[0]
        read_right += first_word == str(photo.label)
        no_digit += not first_word[:1].isdigit()
    answered = len(latencies)
    span = last_answer - min((p.update_time for p in sent), default=0.0)
    return RunResult(
        workers=workers,
        sent=len(sent),
        answered=answered,
        duplicated=duplicated,
        lost=len(sent) - answered,
        read_right=read_right,
        no_digit_or_error=no_digit,
        latency=summarize_latencies(latencies),
        answers_per_second=ratio(answered, span) if answered else 0.0,
        max_send_lag_ms=1000.0 * max((p.lag for p in sent), default=0.0),
    )


def snapshot(
    groups: dict[str, list[int]], read: Callable[[int], float | None] = procfs.cpu_seconds
) -> dict[str, dict[int, float]]:
    """`read(pid)` (CPU seconds by default) for every process, by role."""
    return {
        role: {pid: value for pid in pids if (value := read(pid)) is not None}
        for role, pids in groups.items()
    }


def cpu_used(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """Seconds per role between two snapshots; a process new since `before` counts from 0."""
    return {
        role: sum(cpu - before.get(role, {}).get(pid, 0.0) for pid, cpu in pids.items())
        for role, pids in after.items()
    }


def job_times(connection: Any, sent: Sequence[SentPhoto], *, bot_id: int) -> JobTimes:
    """When each photo's recognition job was enqueued and started (epoch seconds, from RQ)."""
    from rq.job import Job
    from rq.serializers import JSONSerializer

    from digitbot import keys

    ids = [keys.recognition_job_id(p.chat_id, p.message_id, bot_id=bot_id) for p in sent]
    jobs = Job.fetch_many(ids, connection=connection, serializer=JSONSerializer)
    times: JobTimes = {}
    for photo, job in zip(sent, jobs, strict=True):
        if job is not None and job.enqueued_at and job.started_at:
            times[(photo.chat_id, photo.message_id)] = (
                epoch_seconds(job.enqueued_at),
                epoch_seconds(job.started_at),
            )
    return times


def epoch_seconds(moment: dt.datetime) -> float:
    """RQ's timestamps are UTC; older versions leave them naive."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def stage_latencies(
    sent: Sequence[SentPhoto], answers: Answers, times: JobTimes, clock_offset: float
) -> dict[str, dict[str, float]]:
    """Split each answered photo's latency into bot (update queued -> job enqueued), queue
    (enqueued -> a worker started it) and worker (started -> answer received).

    `clock_offset` is time.time() - time.monotonic(): it puts the stand-in's monotonic times
    on RQ's wall clock (same machine, so only the clocks' reading differs).
    """
    split: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for photo in sent:
        key = (photo.chat_id, photo.message_id)
        if key not in times or not answers.get(key):
            continue
        enqueued, started = times[key]
        answered = min(answers[key])[0] + clock_offset
        split["bot"].append(enqueued - (photo.update_time + clock_offset))
        split["queue"].append(started - enqueued)
        split["worker"].append(answered - started)
    return {stage: summarize_latencies(values).as_dict() for stage, values in split.items()}


def peak_rss_mib(pids: Sequence[int]) -> float:
    peaks = [memory[1] for pid in pids if (memory := procfs.memory_bytes(pid)) is not None]
    return max(peaks) / 2**20 if peaks else float("nan")


def warm_up(standin: Any, photos: Sequence[tuple[bytes, int]], plan: LoadPlan) -> None:
    """Send a few photos from a chat of its own and wait for their answers, untimed, so that
    first-use costs (connections, thread pools) stay out of the measurement."""
    warmup = [
        SentPhoto(WARMUP_CHAT_ID, standin.user_sends_photo(WARMUP_CHAT_ID, data), label, 0.0, 0.0)
        for data, label in photos
    ]
    answers = wait_for_answers(standin, warmup, plan.drain_timeout)
    unanswered = len(warmup) - sum((p.chat_id, p.message_id) in answers for p in warmup)
    if unanswered:
        say(f"warning: {unanswered} of {len(warmup)} warm-up photos got no answer")


def run_once(
    num_workers: int,
    plan: LoadPlan,
    photos: Sequence[tuple[bytes, int]],
    *,
    keep_logs: Path | None = None,
) -> RunResult:
    """Start a fresh stack with `num_workers` workers, send the load, measure, stop it."""
    from benchmarks.stack import running_stack

    say(f"workers={num_workers}: starting redis-server, bot and workers ...")
    started = time.monotonic()
    with running_stack(num_workers, keep_logs=keep_logs) as stack:
        say(f"workers={num_workers}: ready in {time.monotonic() - started:.1f} s; warming up")
        warm_up(stack.standin, photos[: WARMUP_PHOTOS_PER_WORKER * num_workers], plan)
        worker_pids = stack.worker_pids()
        groups = stack.process_groups()
        before = snapshot(groups)
        waited_before = snapshot(groups, procfs.run_queue_wait_seconds)
        window_start = time.monotonic()
        say(
            f"workers={num_workers}: sending {plan.num_photos} photos at {plan.rate:g}/s "
            f"from {plan.users} users"
        )
        sent = send_on_schedule(stack.standin, photos, plan)
        wait_for_answers(stack.standin, sent, plan.drain_timeout)
        groups = stack.process_groups()
        after = snapshot(groups)
        waited_after = snapshot(groups, procfs.run_queue_wait_seconds)
        window = time.monotonic() - window_start
        time.sleep(SETTLE_SECONDS)  # late second answers would show up now
        answers = collect_answers(stack.standin, {p.chat_id for p in sent})
        result = analyse(num_workers, sent, answers)
        result.window_seconds = window
        result.cpu_seconds = cpu_used(before, after)
        result.cpu_wait_seconds = cpu_used(waited_before, waited_after)
        result.worker_peak_rss_mib = peak_rss_mib(stack.worker_pids())
        result.bot_peak_rss_mib = peak_rss_mib([stack.bot.pid])
        result.worker_pids_changed = stack.worker_pids() != worker_pids
        clock_offset = time.time() - time.monotonic()
        with redis.Redis.from_url(stack.redis_server.url) as connection:
            bot_id = int(stack.standin.token.partition(":")[0])  # what getMe tells the bot
            times = job_times(connection, sent, bot_id=bot_id)
        result.stages = stage_latencies(sent, answers, times, clock_offset)
    say(
        f"workers={num_workers}: {result.answered}/{result.sent} answered, "
        f"p50 {fmt(result.latency.p50_ms, 0)} ms, p95 {fmt(result.latency.p95_ms, 0)} ms"
    )
    return result


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_workers(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive worker counts like 1,2,4; got {text!r}"
        )
    return counts


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from benchmarks import fault_load  # it builds on this module

    parser.add_argument(
        "--rate",
        type=positive_float,
        default=DEFAULT_RATE,
        help="photos per second from all users together (default 20)",
    )
    parser.add_argument(
        "--duration",
        type=positive_float,
        default=DEFAULT_DURATION_SECONDS,
        help="seconds of sending (default 30)",
    )
    parser.add_argument(
        "--users",
        type=int,
        default=DEFAULT_USERS,
        help="simulated users, one chat each (default 10)",
    )
    parser.add_argument(
        "--workers",
        type=parse_workers,
        default=list(DEFAULT_WORKERS),
        help="worker counts to test, one fresh stack each (default 1,2,4)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=positive_float,
        default=DEFAULT_DRAIN_TIMEOUT_SECONDS,
        help="seconds after sending stops before an unanswered photo is lost",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    fault_load.add_arguments(parser)
    parser.add_argument(
        "--keep-logs",
        type=Path,
        default=None,
        help="keep the bot and worker logs in this directory",
    )


def run_load(args: argparse.Namespace) -> dict[str, Any]:
    """Run the load test for every worker count in `args`; return the --json document."""
    if args.users < 1:
        raise SystemExit("--users must be at least 1")
    plan = LoadPlan(args.rate, args.duration, args.users, args.drain_timeout)
    from benchmarks.stack import precomputed_photo_sizes

    say(f"making {min(DISTINCT_PHOTOS, plan.num_photos)} photos ...")
    photos = make_photos(min(DISTINCT_PHOTOS, plan.num_photos))
    with precomputed_photo_sizes([data for data, _ in photos]):
        results = [run_once(n, plan, photos, keep_logs=args.keep_logs) for n in args.workers]
    document = report_document(plan, results)
    print(markdown_section(document))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        say(f"wrote {args.json}")
    return document


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status 0 when no photo was lost or answered twice, 1 otherwise, 2 when the stack
    could not start."""
    from benchmarks.stack import StackError

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.loadtest", description=__doc__.split("\n\n")[0]
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.faults:
        return run_fault_script(args)
    try:
        document = run_load(args)
    except StackError as exc:
        say(f"the stack did not start: {exc}")
        return 2
    runs = document["runs"]
    return 0 if all(run["lost"] == 0 and run["duplicated"] == 0 for run in runs) else 1


def run_fault_script(args: argparse.Namespace) -> int:
    """`--faults`: the fault script; 0 when no photo was lost or answered twice."""
    from benchmarks import fault_load
    from benchmarks.stack import StackError

    if args.drain_timeout == DEFAULT_DRAIN_TIMEOUT_SECONDS:  # not given: faults take longer
        args.drain_timeout = fault_load.DEFAULT_FAULT_DRAIN_SECONDS
    try:
        document = fault_load.run_faults(args)
    except StackError as exc:
        say(f"the stack did not start: {exc}")
        return 2
    print(fault_load.fault_table(document))
    if args.json:
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        say(f"wrote {args.json}")
    faults = document["faults"]
    return 0 if all(f["lost"] == 0 and f["twice"] == 0 for f in faults) else 1


if __name__ == "__main__":
    raise SystemExit(main())
