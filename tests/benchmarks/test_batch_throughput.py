"""The batching benchmark's bookkeeping: rates, batch sizes read back from the shared counters."""

from __future__ import annotations

import math

import redis

from benchmarks.batch_throughput import SETTINGS, Drain, batch_counts
from digitbot import stats


def test_drain_rates_and_mean_batch() -> None:
    drain = Drain("on", 30, answered=30, seconds=1.5, worker_cpu_seconds=0.9,
                  batch_sizes={5: 4, 10: 1})  # fmt: skip
    assert drain.photos_per_second == 20.0
    assert math.isclose(drain.worker_cpu_ms_per_photo, 30.0)
    assert drain.mean_batch == 6.0
    assert math.isnan(Drain("off", 0).photos_per_second)


def test_batch_sizes_come_from_the_workers_counters(redis_conn: redis.Redis) -> None:
    stats.count(redis_conn, "batches", "4", 3)
    stats.count(redis_conn, "batches", "1")
    stats.count(redis_conn, "answers", "digit", 7)
    assert batch_counts(redis_conn) == {4: 3, 1: 1}


def test_batching_off_is_a_batch_size_of_one() -> None:
    on, off = SETTINGS
    assert "DIGITBOT_INFERENCE_BATCH" not in on.env
    assert off.env == {"DIGITBOT_INFERENCE_BATCH": "1"}
