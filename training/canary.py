"""The canary: load a model artifact in a fresh process and make it read clean MNIST digits.

Run as `python -m training.canary MODEL.keras [RESULT.json]`; exit 0 when the model loads, answers
with valid probabilities, and reads at least CANARY_MIN_RIGHT of CANARY_DIGITS test digits
correctly. A fresh process catches what an in-process check cannot: a file that only loads thanks
to state (custom objects, a warm cache) that a worker on another host will not have.

The verdict travels in RESULT.json, a channel the child owns: TensorFlow's native code may write
start-up lines to the child's stderr (and libraries to its stdout) before any logging is set up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CANARY_DIGITS = 50
CANARY_MIN_RIGHT = 40  # a sanity floor; quality is for the gates
CANARY_TIMEOUT_SECONDS = 180


def run_canary(model_path: Path, home: Path) -> tuple[bool, str]:
    """Run the canary in a subprocess; return (ok, one line saying what happened)."""
    env = {**os.environ, "DIGITBOT_HOME": str(home), "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory(prefix="digitbot-canary-") as tmp:
        result_path = Path(tmp) / "result.json"
        try:
            done = subprocess.run(
                [sys.executable, "-m", "training.canary", str(model_path), str(result_path)],
                capture_output=True, text=True, timeout=CANARY_TIMEOUT_SECONDS, env=env,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return False, f"canary timed out after {CANARY_TIMEOUT_SECONDS} s"
        verdict = _read_verdict(result_path)
    if verdict is None:
        # The child died before it could say anything (a crash in native code, a kill).
        return False, f"canary exited with code {done.returncode} and wrote no verdict"
    ok, detail = verdict
    return ok and done.returncode == 0, detail[:300]


def _read_verdict(path: Path) -> tuple[bool, str] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return bool(record["ok"]), str(record["detail"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _report(result_path: Path | None, ok: bool, detail: str) -> int:
    """Print the verdict for a person and write it for the parent; the exit code agrees."""
    print(detail)
    if result_path is not None:
        result_path.write_text(json.dumps({"ok": ok, "detail": detail}), encoding="utf-8")
    return 0 if ok else 1


def main(argv: list[str]) -> int:
    import numpy as np

    from digitbot.settings import Settings
    from reading.model import DigitModel
    from training.datasets import load_mnist

    if len(argv) not in (1, 2):
        print("usage: python -m training.canary MODEL.keras [RESULT.json]", file=sys.stderr)
        return 2
    result_path = Path(argv[1]) if len(argv) == 2 else None
    try:
        model = DigitModel.load(Path(argv[0]))
        data = load_mnist(Settings.from_env().home)
        images = data.x_test[:CANARY_DIGITS].astype(np.float32) / 255.0
        probabilities = model.probabilities(images)
    except Exception as exc:  # the point is to report any failure as a refusal
        detail = f"canary: cannot load or run the model: {type(exc).__name__}: {exc}"
        return _report(result_path, False, detail)
    if not np.all(np.isfinite(probabilities)) or not np.allclose(
        probabilities.sum(1), 1, atol=1e-3
    ):
        return _report(result_path, False, "canary: the model's outputs are not probabilities")
    right = int((probabilities[:, :10].argmax(1) == data.y_test[:CANARY_DIGITS]).sum())
    if right < CANARY_MIN_RIGHT:
        detail = f"canary: only {right}/{CANARY_DIGITS} clean test digits read right"
        return _report(result_path, False, detail)
    detail = f"canary: loads in a fresh process and reads {right}/{CANARY_DIGITS} test digits"
    return _report(result_path, True, detail)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
