"""Prometheus metrics for the whole system, read from Redis at scrape time.

Every process (bot, workers, web) adds to shared counters and histograms in Redis (web.stats),
so one scrape of any web server shows the totals; nothing here lives only in this process.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from digitbot import stats
from digitbot.registry import HISTORY_LENGTH, ModelRegistry
from digitbot.stats import LATENCY_BUCKETS, LATENCY_PREFIX
from web.status import describe_workers, last_training, queue_depths

# Shared counter kinds (`<kind>:<label>` fields of the stats hash) -> metric name, label name.
COUNTER_KINDS = {
    "received": ("digitbot_photos_received", "source", "Photos accepted for recognition."),
    "answers": ("digitbot_answers", "outcome", "Answers given, by outcome."),
    "rejected": ("digitbot_uploads_rejected", "reason", "Uploads refused before enqueueing."),
    "retrain": ("digitbot_retraining_runs", "outcome", "Retraining runs, by outcome."),
}
# Label values shown (as 0) before anything was counted, so dashboards and alerts see them.
KNOWN_LABELS = {
    "received": ("telegram-photo", "telegram-document", "web-canvas", "web-upload"),
    "answers": ("digit", "no-digit", "error"),
}
QUEUE_STATES = ("started", "failed", "scheduled", "deferred")
# The source label of latencies recorded before they carried one.
UNKNOWN_SOURCE = "unknown"
_NAME_UNSAFE = re.compile(r"[^a-zA-Z0-9_]")


class RedisStatsCollector(Collector):
    """Renders digitbot's Redis-held counters, queues, workers and models at each scrape."""

    def __init__(self, connection: redis.Redis) -> None:
        self.connection = connection

    def collect(self) -> Iterator[Metric]:
        yield from self._counters()
        yield from self._queues()
        yield from self._workers()
        yield from self._models()
        yield from self._latencies()

    def _counters(self) -> Iterator[Metric]:
        families = {
            kind: CounterMetricFamily(name, doc, labels=[label])
            for kind, (name, label, doc) in COUNTER_KINDS.items()
        }
        other = CounterMetricFamily(
            "digitbot_events", "Other shared counters, by field.", labels=["field"]
        )
        counters = {
            f"{kind}:{label}": 0 for kind, labels in KNOWN_LABELS.items() for label in labels
        }
        counters.update(stats.read_counters(self.connection))
        for field, value in sorted(counters.items()):
            kind, _, label = field.partition(":")
            if kind in families and label:
                families[kind].add_metric([label], value)
            else:
                other.add_metric([field], value)
        yield from families.values()
        yield other

    def _queues(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "digitbot_queue_depth", "Jobs waiting in each queue.", labels=["queue"]
        )
        jobs = GaugeMetricFamily(
            "digitbot_queue_jobs",
            "Jobs of each queue in RQ's registries (running, failed...).",
            labels=["queue", "state"],
        )
        for queue in queue_depths(self.connection):
            depth.add_metric([queue["name"]], queue["queued"])
            for state in QUEUE_STATES:
                jobs.add_metric([queue["name"], state], queue[state])
        yield depth
        yield jobs

    def _workers(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "digitbot_workers", "Live RQ workers, by state.", labels=["state"]
        )
        by_state = Counter(worker["state"] for worker in describe_workers(self.connection))
        for state in ("idle", "busy", *sorted(set(by_state) - {"idle", "busy"})):
            family.add_metric([state], by_state.get(state, 0))
        yield family

    def _models(self) -> Iterator[Metric]:
        registry = ModelRegistry(self.connection)
        champion = registry.champion()
        info = InfoMetricFamily("digitbot_champion_model", "The model answering now.")
        if champion is not None:
            info.add_metric([], {"version": champion.version, "arch": champion.arch})
        yield info
        accuracy = GaugeMetricFamily(
            "digitbot_model_test_accuracy", "MNIST test accuracy of each stored model.",
            labels=["version", "champion"],
        )  # fmt: skip
        versions = registry.versions()
        for model in versions:
            if model.test_accuracy is not None:
                is_champion = "yes" if champion and model.version == champion.version else "no"
                accuracy.add_metric([model.version, is_champion], model.test_accuracy)
        yield accuracy
        yield GaugeMetricFamily(
            "digitbot_models_stored", "Model versions in the registry.", value=len(versions)
        )
        events = Counter(str(e.get("event", "?")) for e in registry.history(HISTORY_LENGTH))
        yield CounterMetricFamily(
            "digitbot_model_promotions",
            f"Champion changes (promotions and rollbacks) in the last {HISTORY_LENGTH} decisions.",
            value=events.get("promote", 0),
        )
        decisions = CounterMetricFamily(
            "digitbot_model_decisions",
            f"Registry decisions by kind, in the last {HISTORY_LENGTH} recorded.",
            labels=["event"],
        )
        for event, number in sorted(events.items()):
            decisions.add_metric([event], number)
        yield decisions
        finished = _last_training_time(last_training(self.connection))
        if finished is not None:
            yield GaugeMetricFamily(
                "digitbot_last_training_timestamp_seconds",
                "When the last retraining run ended (Unix time).",
                value=finished,
            )

    def _latencies(self) -> Iterator[Metric]:
        series: dict[str, dict[str | None, dict[str, str]]] = {}
        for key in self.connection.scan_iter(match=f"{LATENCY_PREFIX}*", count=100):
            name, source = stats.parse_latency_key(stats.as_text(key))
            hash_fields = self.connection.hgetall(key).items()
            fields = {stats.as_text(k): stats.as_text(v) for k, v in hash_fields}
            series.setdefault(name, {})[source] = fields
        for name in sorted(series):
            family = latency_histogram(name, series[name])
            if family is not None:
                yield family


def latency_histogram(
    name: str, by_source: dict[str | None, dict[str, str]]
) -> HistogramMetricFamily | None:
    """One histogram from per-bucket counts per source ({"web-canvas": {"0.01": "3", "+Inf":
    "1", "sum": "0.2"}}); labelled by source unless every series came without one (None).

    Every standard bucket is rendered, observed or not, so the set of series never changes.
    """
    metric_name = "digitbot_" + _NAME_UNSAFE.sub("_", name).strip("_") + "_seconds"
    labelled = any(source is not None for source in by_source)
    family = HistogramMetricFamily(
        metric_name, f"Latency of {name} (seconds).", labels=["source"] if labelled else None
    )
    rendered = False
    for source, fields in sorted(by_source.items(), key=lambda item: item[0] or ""):
        buckets = cumulative_buckets(fields)
        if buckets is None:
            continue
        labels = [source or UNKNOWN_SOURCE] if labelled else []
        family.add_metric(labels, buckets[0], sum_value=buckets[1])
        rendered = True
    return family if rendered else None


def cumulative_buckets(fields: dict[str, str]) -> tuple[list[tuple[str, int]], float] | None:
    """Prometheus' cumulative (le, count) buckets and the sum, from per-bucket counts."""
    counts: dict[float, int] = {}
    for field, value in fields.items():
        if field == "sum":
            continue
        try:
            bound = float(field)
            counts[bound] = counts.get(bound, 0) + int(float(value))
        except ValueError:
            continue
    if not counts:
        return None
    for bound in (*LATENCY_BUCKETS, math.inf):
        counts.setdefault(bound, 0)
    cumulative, total = [], 0
    for bound, number in sorted(counts.items()):
        total += number
        cumulative.append(("+Inf" if math.isinf(bound) else repr(bound), total))
    try:
        sum_value = float(fields.get("sum", "0"))
    except ValueError:
        sum_value = 0.0
    return cumulative, sum_value


def _last_training_time(outcome: dict[str, Any] | None) -> float | None:
    if not outcome:
        return None
    for field in ("finished_at", "ended_at", "at"):
        value = outcome.get(field)
        if isinstance(value, int | float):
            return float(value)
    return None


def metrics_registry(connection: redis.Redis) -> CollectorRegistry:
    """A registry of its own per app, so tests can build many apps in one process."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisStatsCollector(connection))
    return registry
