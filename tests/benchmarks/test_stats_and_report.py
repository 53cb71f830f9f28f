"""Percentiles, latency summaries and report tables on inputs whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.machine import cpu_model, describe_machine
from benchmarks.report import (
    Section,
    extract_load_section,
    fmt,
    markdown_table,
    render_document,
)
from benchmarks.stats import median_ms, percentile, ratio, summarize_latencies, time_calls


@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = [0.3, 0.01, 5.0, 2.2, 2.2, 0.7, 1.9, 8.5, 0.05, 3.3, 4.1]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_known_values() -> None:
    assert percentile(list(range(1, 101)), 50) == pytest.approx(50.5)
    assert percentile([10.0], 99) == 10.0
    assert percentile([1.0, 2.0], 50) == 1.5


def test_percentile_refuses_nothing_and_bad_q() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="between 0 and 100"):
        percentile([1.0], 101)


def test_summarize_latencies_reports_milliseconds() -> None:
    summary = summarize_latencies([0.1] * 90 + [0.5] * 10)
    assert summary.count == 100
    assert summary.p50_ms == pytest.approx(100.0)
    assert summary.p95_ms == pytest.approx(500.0)
    assert summary.max_ms == pytest.approx(500.0)
    assert summary.mean_ms == pytest.approx(140.0)


def test_summarize_no_latencies_is_nan_not_an_error() -> None:
    summary = summarize_latencies([])
    assert summary.count == 0 and math.isnan(summary.p50_ms)


def test_ratio_and_timing_helpers() -> None:
    assert ratio(6.0, 3.0) == 2.0
    assert math.isnan(ratio(1.0, 0.0))
    calls: list[int] = []
    samples = time_calls(lambda: calls.append(1), 5, warmup=2)
    assert len(samples) == 5 and len(calls) == 7
    assert median_ms(lambda: None, 3) >= 0.0


def test_fmt_cells() -> None:
    assert fmt(1.23456) == "1.23"
    assert fmt(1.23456, 0) == "1"
    assert fmt(float("nan")) == "–"
    assert fmt(None) == "–"
    assert fmt(True) == "yes"
    assert fmt(7) == "7"


def test_markdown_table_aligns_numbers_right() -> None:
    table = markdown_table(["name", "ms"], [["model", 1.5], ["photo", 12.25]])
    assert table.splitlines() == [
        "| name  |    ms |",
        "| ----- | ----: |",
        "| model |  1.50 |",
        "| photo | 12.25 |",
    ]


def test_markdown_table_refuses_ragged_rows() -> None:
    with pytest.raises(ValueError, match="2 columns"):
        markdown_table(["a", "b"], [[1]])


def test_document_keeps_the_load_section_between_markers() -> None:
    machine = describe_machine()
    section = Section("Model", "What was measured.", ["batch", "ms"], [[1, 0.8]], ["a note"])
    load = "## Load test\n\n| workers |\n| --- |\n| 2 |\n"
    document = render_document(machine, [section], load, "python -m benchmarks --quick")
    assert "## Model" in document and "| batch |" in document and "- a note" in document
    assert machine.cpu_model in document
    assert extract_load_section(document) == load
    assert extract_load_section("# no markers here\n") is None
    again = render_document(machine, [section], extract_load_section(document), "again")
    assert extract_load_section(again) == load


def test_cpu_model_is_read_from_cpuinfo() -> None:
    assert cpu_model() != ""
