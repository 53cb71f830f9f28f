"""Before and after in one run: a child process per version of the code, taking turns.

A benchmark that compares the checkout with the baseline (`benchmarks.baseline`) starts one
`Child` per version, each running the benchmark module's request loop (`serve`), and asks
them for a round of timings in turn, so that load on the machine falls on both alike. A
child answers each request (a JSON object on one line) with one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TextIO

from benchmarks import baseline

REPLY_PREFIX = "@@reply "  # a child's answers; anything else on its stdout is passed through
BEFORE, AFTER = "before", "after"


class Child:
    """One child process answering requests; stop it with `close` (or use `children`)."""

    def __init__(self, name: str, module: str, args: Sequence[str], env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "--serve", *args],
            cwd=baseline.REPO_ROOT,
            env={**os.environ, **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, request: dict[str, Any]) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith(REPLY_PREFIX):
                return json.loads(line[len(REPLY_PREFIX) :])
            sys.stderr.write(line)
        raise RuntimeError(f"the {self.name} child exited (status {self.process.wait()})")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def children(module: str, args: Sequence[str], revision: str | None) -> Iterator[dict[str, Child]]:
    """The "after" child (the checkout) and, unless `revision` is None, the "before" child
    (the reading library at `revision`). Raises baseline.BaselineError when git cannot
    provide that revision."""
    folder = baseline.prepare(revision) if revision else None
    with ExitStack() as stack:
        started: dict[str, Child] = {}
        for name, env in ((AFTER, {}), (BEFORE, baseline.environment(folder))):
            if name == BEFORE and folder is None:
                continue
            child = Child(name, module, args, env)
            stack.callback(child.close)
            started[name] = child
        yield started


def serve(answer: Callable[[dict[str, Any]], Any], stream: TextIO | None = None) -> int:
    """The child's side: answer each request line of stdin until it closes."""
    for line in stream or sys.stdin:
        if line.strip():
            reply = answer(json.loads(line))
            sys.stdout.write(REPLY_PREFIX + json.dumps(reply) + "\n")
            sys.stdout.flush()
    return 0


def in_turns(names: Sequence[str], round_number: int) -> list[str]:
    """Who goes first alternates from round to round."""
    return list(names) if round_number % 2 == 0 else list(reversed(names))


def child_args(model_path: Path | None) -> list[str]:
    return ["--model", str(model_path)] if model_path else []
