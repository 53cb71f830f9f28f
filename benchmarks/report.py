"""Turning benchmark results into Markdown: tables, sections, and BENCHMARKS.md itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.machine import Machine

LOAD_BEGIN = "<!-- loadtest:begin -->"
LOAD_END = "<!-- loadtest:end -->"
REGENERATE_COMMAND = "python -m benchmarks --write BENCHMARKS.md"


def fmt(value: Any, digits: int = 2) -> str:
    """A table cell: floats with `digits` decimals, NaN and None as "–", the rest as str."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table, columns padded so it also reads well in a terminal.

    Cells that are not strings go through `fmt`; numeric columns are right-aligned.
    """
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells, the table {len(headers)} columns: {row}")
    numeric = [
        bool(rows) and all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        for i in range(len(headers))
    ]
    widths = [max([len(h), 3, *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        ("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric, strict=True)
    ]
    return "\n".join([line(headers), line(rule), *(line(row) for row in cells)])


@dataclass
class Section:
    """One benchmark's results: a heading, a sentence on what was measured, a table."""

    title: str
    summary: str
    headers: list[str]
    rows: list[list[Any]]
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # raw numbers for --json

    def to_markdown(self, level: int = 2) -> str:
        parts = [f"{'#' * level} {self.title}", "", self.summary, ""]
        if self.rows:
            parts += [markdown_table(self.headers, self.rows), ""]
        parts += [f"- {note}" for note in self.notes]
        return "\n".join(parts).rstrip() + "\n"


def render_document(
    machine: Machine,
    sections: Sequence[Section],
    load_section: str | None,
    command: str,
    *,
    quick: bool = False,
) -> str:
    """The whole of BENCHMARKS.md; `load_section` is Markdown kept between the load markers."""
    parts = [
        "# digitbot benchmarks",
        "",
        f"Generated {machine.date} by `{command}`. Regenerate with `{REGENERATE_COMMAND}` "
        "(add `--with-load` to run the load test as well, or `--load-json FILE` to include a "
        "load test run separately with `python -m benchmarks.loadtest --json FILE`).",
        "",
        f"Machine: {machine.describe()}.",
        "",
        *(
            [
                "**Quick run** (small counts, no training): indicative only; the numbers of "
                "record come from a full run on a quiet machine.",
                "",
            ]
            if quick
            else []
        ),
        "Every comparison is a ratio of two measurements taken in the same run, so it holds "
        "better across machines than the absolute numbers do.",
        "",
    ]
    parts += [section.to_markdown() for section in sections]
    parts += [LOAD_BEGIN, (load_section or "## Load test\n\nNot run yet.\n").rstrip(), LOAD_END]
    return "\n".join(parts).rstrip() + "\n"


def extract_load_section(document: str) -> str | None:
    """The Markdown between the load-test markers of an earlier BENCHMARKS.md, if any."""
    start = document.find(LOAD_BEGIN)
    end = document.find(LOAD_END)
    if start < 0 or end < start:
        return None
    return document[start + len(LOAD_BEGIN) : end].strip() + "\n"
