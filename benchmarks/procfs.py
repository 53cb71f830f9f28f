"""Reading CPU time and memory of processes from Linux's /proc, without extra packages.

Processes can exit at any moment, so readers of another process return None when it is gone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
# Fields of /proc/<pid>/stat counted after the ")" that closes the command name:
# state is 0, ppid 1, utime 11, stime 12 (fields 3, 4, 14 and 15 of proc(5)).
_PPID_FIELD = 1
_UTIME_FIELD = 11
_STIME_FIELD = 12


@dataclass(frozen=True)
class ProcessSample:
    """What one process had used when it was read: CPU seconds (user + system) and memory."""

    pid: int
    name: str
    cpu_seconds: float
    rss_bytes: int
    peak_rss_bytes: int


def _stat_fields(pid: int, proc: Path = PROC) -> tuple[str, list[str]] | None:
    """The command name and the fields after it, or None when the process is gone."""
    try:
        text = (proc / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The name may contain spaces and parentheses; it ends at the last ")".
    name = text[text.index("(") + 1 : text.rindex(")")]
    return name, text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, proc: Path = PROC) -> float | None:
    """User + system CPU seconds the process has used so far (its own threads, not children)."""
    parsed = _stat_fields(pid, proc)
    return None if parsed is None else _cpu_from_fields(parsed[1])


def _cpu_from_fields(fields: list[str]) -> float:
    ticks = int(fields[_UTIME_FIELD]) + int(fields[_STIME_FIELD])
    return ticks / CLOCK_TICKS_PER_SECOND


def run_queue_wait_seconds(pid: int, proc: Path = PROC) -> float | None:
    """Seconds the process's live threads have spent ready to run but waiting for a CPU.

    From /proc/<pid>/task/*/schedstat (on-CPU ns, waiting ns, timeslices). A large share of
    waiting means the machine, not the process, set the pace.
    """
    try:
        tasks = list((proc / str(pid) / "task").iterdir())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    waited_ns = 0
    for task in tasks:
        try:
            waited_ns += int((task / "schedstat").read_text().split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue  # the thread ended, or the kernel keeps no schedstats
    return waited_ns / 1e9


def parent_pid(pid: int, proc: Path = PROC) -> int | None:
    parsed = _stat_fields(pid, proc)
    return None if parsed is None else int(parsed[1][_PPID_FIELD])


def memory_bytes(pid: int, proc: Path = PROC) -> tuple[int, int] | None:
    """(current RSS, peak RSS) in bytes from VmRSS and VmHWM, or None when the process is gone."""
    try:
        lines = (proc / str(pid) / "status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    values = {}
    for line in lines:
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            number, _, unit = rest.strip().partition(" ")
            values[key] = int(number) * (1024 if unit.strip() == "kB" else 1)
    if "VmRSS" not in values:  # a zombie has no memory left
        return None
    return values["VmRSS"], values.get("VmHWM", values["VmRSS"])


def sample(pid: int, proc: Path = PROC) -> ProcessSample | None:
    """CPU time and memory of one process, or None when it is gone."""
    parsed = _stat_fields(pid, proc)
    memory = memory_bytes(pid, proc)
    if parsed is None or memory is None:
        return None
    name, fields = parsed
    return ProcessSample(pid, name, _cpu_from_fields(fields), memory[0], memory[1])


def child_pids(pid: int, proc: Path = PROC) -> list[int]:
    """Direct children of `pid`, found by the parent field of every /proc/<n>/stat."""
    return sorted(process_tree(proc).get(pid, []))


def process_tree(proc: Path = PROC) -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process visible now."""
    tree: dict[int, list[int]] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit():
            parent = parent_pid(int(entry.name), proc)
            if parent is not None:
                tree.setdefault(parent, []).append(int(entry.name))
    return tree


def descendants(
    pid: int, tree: dict[int, list[int]] | None = None, *, include_self: bool = False
) -> list[int]:
    """Children, grandchildren, ... of `pid` (and `pid` itself when asked)."""
    tree = process_tree() if tree is None else tree
    found = [pid] if include_self else []
    pending = list(tree.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(tree.get(child, []))
    return found
