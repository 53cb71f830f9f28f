"""Turning benchmark results into Markdown: tables, sections, and BENCHMARKS.md itself."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
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


def section_markers(name: str) -> tuple[str, str]:
    """The comments around benchmark `name`'s generated block in BENCHMARKS.md."""
    return f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"


def render_document(
    machine: Machine,
    sections: Mapping[str, Section],
    load_section: str | None,
    command: str,
    *,
    quick: bool = False,
    previous: str | None = None,
) -> str:
    """BENCHMARKS.md with `sections` (by benchmark name) as measured now.

    Each generated part sits between markers (`section_markers`, the load-test markers); with
    `previous` (the file as it was), only the parts measured now are replaced: everything
    outside the markers (hand-written notes, tables of runs done by hand) stays as it was, and
    so do the sections of benchmarks not run this time. `load_section` None keeps the last
    load test. A section new to the file goes after the last generated one.
    """
    blocks = {
        name: _section_block(section, machine, command, quick) for name, section in sections.items()
    }
    header = _header()
    if previous is None:
        parts = [_marked("header", header), *(_marked(n, b) for n, b in blocks.items())]
        load = load_section or "## Load test\n\nNot run yet.\n"
        parts.append(f"{LOAD_BEGIN}\n{load.rstrip()}\n{LOAD_END}")
        return "\n\n".join(parts).rstrip() + "\n"
    document = _replace_block(previous, *section_markers("header"), header, at_start=True)
    for name, block in blocks.items():
        document = _replace_block(document, *section_markers(name), block)
    if load_section is not None:
        document = _replace_block(document, LOAD_BEGIN, LOAD_END, load_section)
    return document.rstrip() + "\n"


def _header() -> str:
    return "\n".join(
        [
            "# digitbot benchmarks",
            "",
            f"Regenerate with `{REGENERATE_COMMAND}` (add `--only NAMES` to rerun some of the "
            "sections, `--with-load` to run the load test as well, or `--load-json FILE` to "
            "include a load test run separately with `python -m benchmarks.loadtest --json "
            "FILE`): it replaces the sections it measures and keeps the rest, hand-written "
            "notes included. Each section says when, by which command and on which machine it "
            "was measured.",
            "",
            "Every comparison is a ratio of two measurements taken in the same run, so it holds "
            "better across machines than the absolute numbers do.",
        ]
    )


def _section_block(section: Section, machine: Machine, command: str, quick: bool) -> str:
    quick_note = (
        " **Quick run** (small counts): indicative only; the numbers of record come from a "
        "full run on a quiet machine."
        if quick
        else ""
    )
    provenance = f"Measured {machine.date} by `{command}` on {machine.describe()}.{quick_note}"
    return section.to_markdown().rstrip() + "\n\n" + provenance


def _marked(name: str, block: str) -> str:
    begin, end = section_markers(name)
    return f"{begin}\n{block.rstrip()}\n{end}"


def _replace_block(
    document: str, begin: str, end: str, block: str, *, at_start: bool = False
) -> str:
    """`document` with the text between `begin` and `end` replaced by `block`; where the
    markers are missing, the marked block is added at the start (`at_start`) or after the
    last generated block (before the load test's, or at the end)."""
    marked = f"{begin}\n{block.rstrip()}\n{end}"
    start = document.find(begin)
    stop = document.find(end, start + len(begin)) if start >= 0 else -1
    if start >= 0 and stop >= 0:
        return document[:start] + marked + document[stop + len(end) :]
    if at_start:
        return marked + "\n\n" + document.lstrip()
    ends = [m.end() for m in re.finditer(r"<!-- bench:[\w-]+:end -->", document)]
    position = ends[-1] if ends else document.find(LOAD_BEGIN)
    if position < 0:
        return document.rstrip() + "\n\n" + marked + "\n"
    return document[:position].rstrip() + "\n\n" + marked + "\n\n" + document[position:].lstrip()


def extract_load_section(document: str) -> str | None:
    """The Markdown between the load-test markers of an earlier BENCHMARKS.md, if any."""
    start = document.find(LOAD_BEGIN)
    end = document.find(LOAD_END)
    if start < 0 or end < start:
        return None
    return document[start + len(LOAD_BEGIN) : end].strip() + "\n"
