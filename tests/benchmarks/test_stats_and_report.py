"""Percentiles, latency summaries and report tables on inputs whose answers are known."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks.machine import cpu_model, describe_machine
from benchmarks.report import (
    LOAD_BEGIN,
    Section,
    extract_load_section,
    fmt,
    markdown_table,
    render_document,
    section_markers,
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
    document = render_document(machine, {"model": section}, load, "python -m benchmarks --quick")
    assert "## Model" in document and "| batch |" in document and "- a note" in document
    assert machine.cpu_model in document
    assert "Measured " in document and "by `python -m benchmarks --quick`" in document
    assert extract_load_section(document) == load
    assert extract_load_section("# no markers here\n") is None
    again = render_document(machine, {"model": section}, None, "again", previous=document)
    assert extract_load_section(again) == load


HAND_WRITTEN = "## Photo benchmark (accuracy)\n\nRun by hand with `digitbot evaluate`.\n"


def test_writing_again_replaces_only_the_sections_measured_now() -> None:
    machine = describe_machine()
    model = Section("Model", "Model calls.", ["batch", "ms"], [[1, 0.8]])
    photos = Section("Photos", "Photo stages.", ["photo", "ms"], [["1280", 20.0]])
    first = render_document(
        machine, {"model": model, "photos": photos}, "## Load test\n\nRun.\n", "first"
    )
    # Notes written by hand: after a section's block, and a section of their own.
    model_end = section_markers("model")[1]
    edited = first.replace(model_end, model_end + "\n\nMeasured twice more by hand.")
    edited = edited.replace(LOAD_BEGIN, HAND_WRITTEN + "\n" + LOAD_BEGIN)
    faster = Section("Photos", "Photo stages.", ["photo", "ms"], [["1280", 8.0]])
    drain = Section("Drain", "One worker.", ["version", "photos/s"], [["after", 40.0]])
    second = render_document(
        machine, {"photos": faster, "drain": drain}, None, "second", previous=edited
    )
    assert "Measured twice more by hand." in second and HAND_WRITTEN in second
    assert "| 1280  | 8.00 |" in second and "20.00" not in second  # photos replaced
    assert "Model calls." in second and "by `first`" in second  # model kept as it was
    assert extract_load_section(second) == "## Load test\n\nRun.\n"
    # The new section goes after the last generated one, before the hand-written section.
    assert second.index("## Drain") < second.index(HAND_WRITTEN) < second.index(LOAD_BEGIN)
    assert second.index("## Photos") < second.index("## Drain")
    assert render_document(machine, {}, None, "third", previous=second).count("## Drain") == 1


def test_suite_write_keeps_the_hand_written_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import suite

    document = tmp_path / "BENCHMARKS.md"
    sections = {
        "model": Section("Model", "Model calls.", ["batch", "ms"], [[1, 0.8]]),
        "training": Section("Training", "Ten epochs.", ["epoch", "min"], [[1, 0.9]]),
    }
    monkeypatch.setattr(
        suite,
        "benchmark_runners",
        lambda args: {name: (lambda s=s: s) for name, s in sections.items()},
    )
    assert suite.main(["--only", "model,training", "--write", str(document)]) == 0
    document.write_text(document.read_text() + "\n" + HAND_WRITTEN)
    sections["model"] = Section("Model", "Model calls.", ["batch", "ms"], [[1, 0.5]])
    sections["training"] = suite.skipped_training("--quick")
    assert suite.main(["--quick", "--only", "model,training", "--write", str(document)]) == 0
    text = document.read_text()
    assert HAND_WRITTEN in text and "0.50" in text and "0.80" not in text
    assert "Ten epochs." in text and "Not measured" not in text  # a skipped run keeps the last


def test_cpu_model_is_read_from_cpuinfo() -> None:
    assert cpu_model() != ""
