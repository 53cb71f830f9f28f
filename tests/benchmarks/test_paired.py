"""Before and after in one run: the baseline's reading library found by a child process, and
the request loop the children answer."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import baseline, paired


def test_a_child_reads_with_the_baseline_commits_reading_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(baseline, "CACHE_DIR", tmp_path / "cache")
    folder = baseline.prepare("HEAD")
    assert (folder / "reading" / "preprocess.py").exists()
    assert baseline.prepare("HEAD") == folder  # made once
    found = subprocess.run(
        [sys.executable, "-c", "import reading.preprocess, digitbot; "
         "print(reading.preprocess.__file__); print(digitbot.__file__)"],
        cwd=baseline.REPO_ROOT, env={**os.environ, **baseline.environment(folder)},
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert found[0] == str(folder / "reading" / "preprocess.py")
    assert found[1].startswith(str(baseline.REPO_ROOT / "digitbot"))  # the rest: the checkout
    assert baseline.environment(None) == {}


def test_an_unknown_revision_is_a_baseline_error(tmp_path: Path) -> None:
    with pytest.raises(baseline.BaselineError, match="no-such-revision"):
        baseline.prepare("no-such-revision")


def test_the_request_loop_answers_each_line(capsys: pytest.CaptureFixture[str]) -> None:
    requests = io.StringIO('{"n": 2}\n\n{"n": 5}\n')
    assert paired.serve(lambda request: {"twice": 2 * request["n"]}, requests) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line.removeprefix(paired.REPLY_PREFIX)) for line in lines] == [
        {"twice": 4},
        {"twice": 10},
    ]


def test_turns_alternate() -> None:
    assert paired.in_turns(["after", "before"], 0) == ["after", "before"]
    assert paired.in_turns(["after", "before"], 1) == ["before", "after"]
