"""The /proc readers, on this test process, a child of it, and a made-up /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import procfs


def test_cpu_seconds_of_this_process_grows_with_work() -> None:
    before = procfs.cpu_seconds(os.getpid())
    assert before is not None and before > 0
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    after = procfs.cpu_seconds(os.getpid())
    assert after is not None and after >= before + 0.05


def test_memory_of_this_process() -> None:
    memory = procfs.memory_bytes(os.getpid())
    assert memory is not None
    rss, peak = memory
    assert 10 * 2**20 < rss <= peak
    sample = procfs.sample(os.getpid())
    assert sample is not None and sample.pid == os.getpid() and sample.name.startswith("py")


def test_parent_and_children() -> None:
    assert procfs.parent_pid(os.getpid()) == os.getppid()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in procfs.child_pids(os.getpid())
        assert child.pid in procfs.descendants(os.getpid())
        assert procfs.descendants(child.pid, include_self=True) == [child.pid]
    finally:
        child.kill()
        child.wait()
    assert procfs.cpu_seconds(child.pid) is None  # reaped: gone


def test_names_with_spaces_and_parentheses(tmp_path: Path) -> None:
    ticks = procfs.CLOCK_TICKS_PER_SECOND
    fields_after_name = ["S", "77"] + ["0"] * 9 + [str(3 * ticks), str(ticks)] + ["0"] * 30
    (tmp_path / "42").mkdir()
    (tmp_path / "42" / "stat").write_text(f"42 (odd (name) x) {' '.join(fields_after_name)}\n")
    (tmp_path / "42" / "status").write_text("Name:\todd\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")
    assert procfs.cpu_seconds(42, tmp_path) == 4.0
    assert procfs.parent_pid(42, tmp_path) == 77
    assert procfs.memory_bytes(42, tmp_path) == (1024 * 1024, 2048 * 1024)
    sample = procfs.sample(42, tmp_path)
    assert sample is not None and sample.name == "odd (name) x"
    assert procfs.child_pids(77, tmp_path) == [42]
    assert procfs.sample(43, tmp_path) is None


def test_run_queue_wait_of_this_process_and_a_made_up_one(tmp_path: Path) -> None:
    waited = procfs.run_queue_wait_seconds(os.getpid())
    assert waited is not None and waited >= 0.0
    for tid, line in (("42", "5000 1500000000 7\n"), ("43", "10 500000000 2\n")):
        (tmp_path / "42" / "task" / tid).mkdir(parents=True)
        (tmp_path / "42" / "task" / tid / "schedstat").write_text(line)
    assert procfs.run_queue_wait_seconds(42, tmp_path) == 2.0
    assert procfs.run_queue_wait_seconds(44, tmp_path) is None
