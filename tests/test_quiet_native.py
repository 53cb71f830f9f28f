"""TensorFlow's native start-up lines stay off users' terminals (digitbot.quiet_native)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from digitbot.quiet_native import captured_native_stderr

REPO = Path(__file__).resolve().parents[1]
# What TensorFlow's C++ core writes at start-up on some CPUs (absl, oneDNN, CPU features).
NATIVE_MARKERS = ("absl::InitializeLog", "oneDNN", "cpu_feature_guard", "port.cc")


def test_writes_to_descriptor_2_are_captured_and_not_printed() -> None:
    code = (
        "import os\n"
        "from digitbot.quiet_native import captured_native_stderr\n"
        "with captured_native_stderr() as lines:\n"
        "    os.write(2, b'I0000 port.cc:153] oneDNN custom operations are on\\n')\n"
        "print(lines)\n"
        "os.write(2, b'after\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "oneDNN custom operations are on" in done.stdout  # captured into the list
    assert done.stderr == "after\n"  # and only what came after the block reached stderr


def test_descriptor_2_is_restored_when_the_block_raises() -> None:
    try:
        with captured_native_stderr():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with captured_native_stderr() as lines:
        os.write(2, b"still captured\n")
    assert lines == ["still captured"]


def test_predict_prints_no_native_start_up_lines(tmp_path: Path) -> None:
    image = np.full((60, 60), 255, np.uint8)
    image[10:50, 28:32] = 0  # a "1"
    path = tmp_path / "one.png"
    Image.fromarray(image).save(path)
    done = subprocess.run(
        [sys.executable, "-m", "digitbot.cli", "predict", "--json", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert '"file"' in done.stdout
    for marker in NATIVE_MARKERS:
        assert marker not in done.stderr and marker not in done.stdout
