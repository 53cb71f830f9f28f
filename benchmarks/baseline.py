"""The reading library as of an earlier commit: the "before" of before/after columns, measured
in the same run as the code of the checkout.

`prepare(revision)` writes that commit's `reading/` into a folder beside a `sitecustomize.py`
that makes `import reading` find it there; a process started with `environment(folder)`
then reads photos the old way, with everything else (digitbot, worker, tests) from the
checkout. A redirect on the import system rather than sys.path, because `python -m` puts the
working directory (the checkout) first on sys.path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The reading library before issue 20's OpenCV preprocessing (the LiteRT model call is in).
BASELINE_REVISION = "35d6d5b"
CACHE_DIR = Path(tempfile.gettempdir()) / "digitbot-baseline"

_SITECUSTOMIZE = '''"""By benchmarks.baseline: `import reading` finds the copy in this folder."""
import importlib.abc
import importlib.machinery
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


class _BaselineReading(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "reading":
            return None  # submodules follow the package's own __path__
        return importlib.machinery.PathFinder.find_spec(name, [_HERE])


sys.meta_path.insert(0, _BaselineReading())
'''


class BaselineError(RuntimeError):
    """The baseline revision could not be checked out (no git, or no such commit)."""


def prepare(revision: str = BASELINE_REVISION) -> Path:
    """A folder holding `revision`'s reading/ and the import redirect (made once, then kept)."""
    commit = _git("rev-parse", "--verify", f"{revision}^{{commit}}").strip()
    folder = CACHE_DIR / commit
    if (folder / "sitecustomize.py").exists():
        return folder
    staging = Path(tempfile.mkdtemp(prefix="staging-", dir=_made(CACHE_DIR)))
    archive = staging / "reading.tar"
    _git("archive", "--format=tar", "-o", str(archive), commit, "reading")
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    archive.unlink()
    (staging / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    try:
        staging.rename(folder)
    except OSError:  # made meanwhile by another run
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def environment(folder: Path | None) -> dict[str, str]:
    """Environment variables for a child process reading the baseline at `folder` (None: the
    checkout's own reading library)."""
    if folder is None:
        return {}
    # Passing the environment on to a child (not a setting): its PYTHONPATH, extended.
    current = dict(os.environ).get("PYTHONPATH", "")
    return {"PYTHONPATH": os.pathsep.join(p for p in (str(folder), current) if p)}


def describe(revision: str = BASELINE_REVISION) -> str:
    """`revision` as short hash and subject, for the report."""
    return _git("log", "-1", "--format=%h (%s)", revision).strip()


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )
    except OSError as exc:
        raise BaselineError(f"cannot run git for the baseline: {exc}") from exc
    if done.returncode != 0:
        raise BaselineError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder
