"""The canary: load a model artifact in a fresh process and make it read clean MNIST digits.

Run as `python -m training.canary MODEL.keras`; exit 0 when the model loads, answers with valid
probabilities, and reads at least CANARY_MIN_RIGHT of CANARY_DIGITS test digits correctly. A fresh
process catches what an in-process check cannot: a file that only loads thanks to state (custom
objects, a warm cache) that a worker on another host will not have.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CANARY_DIGITS = 50
CANARY_MIN_RIGHT = 40  # a sanity floor; quality is for the gates
CANARY_TIMEOUT_SECONDS = 180


def run_canary(model_path: Path, home: Path) -> tuple[bool, str]:
    """Run the canary in a subprocess; return (ok, one line saying what happened)."""
    env = {**os.environ, "DIGITBOT_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "training.canary", str(model_path)],
            capture_output=True, text=True, timeout=CANARY_TIMEOUT_SECONDS, env=env,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return False, f"canary timed out after {CANARY_TIMEOUT_SECONDS} s"
    lines = [line for line in (done.stdout + done.stderr).strip().splitlines() if line.strip()]
    last = lines[-1] if lines else f"exit code {done.returncode}"
    return done.returncode == 0, last[:300]


def main(argv: list[str]) -> int:
    import numpy as np

    from training.datasets import load_mnist
    from worker.model import DigitModel

    if len(argv) != 1:
        print("usage: python -m training.canary MODEL.keras")
        return 2
    try:
        model = DigitModel.load(Path(argv[0]))
        data = load_mnist(Path(os.environ.get("DIGITBOT_HOME", Path.home() / ".digitbot")))
        images = data.x_test[:CANARY_DIGITS].astype(np.float32) / 255.0
        probabilities = model.probabilities(images)
    except Exception as exc:  # the point is to report any failure as a refusal
        print(f"canary: cannot load or run the model: {type(exc).__name__}: {exc}")
        return 1
    if not np.all(np.isfinite(probabilities)) or not np.allclose(
        probabilities.sum(1), 1, atol=1e-3
    ):
        print("canary: the model's outputs are not probabilities")
        return 1
    right = int((probabilities[:, :10].argmax(1) == data.y_test[:CANARY_DIGITS]).sum())
    if right < CANARY_MIN_RIGHT:
        print(f"canary: only {right}/{CANARY_DIGITS} clean test digits read right")
        return 1
    print(f"canary: loads in a fresh process and reads {right}/{CANARY_DIGITS} test digits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
