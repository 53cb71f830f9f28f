"""The canary: load a model artifact in a fresh process and make it read clean MNIST digits.

Run as `python -m training.canary MODEL.keras [RESULT.json]`; exit 0 when the model loads, answers
with valid probabilities, reads at least CANARY_MIN_RIGHT of CANARY_DIGITS test digits correctly,
and its lean form (MODEL.tflite beside it, what workers call) loads and gives the same
probabilities as the Keras call to within reading.lean.MAX_ABS_DIFFERENCE on
CANARY_AGREEMENT_DIGITS test digits. A fresh process catches what an in-process check cannot: a
file that only loads thanks to state (custom objects, a warm cache) that a worker on another host
will not have.

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
from typing import TYPE_CHECKING

from digitbot.registry import ModelRegistry

if TYPE_CHECKING:
    import numpy as np

    from reading.model import DigitModel

CANARY_DIGITS = 50
CANARY_MIN_RIGHT = 40  # a sanity floor; quality is for the gates
CANARY_AGREEMENT_DIGITS = 1000
CANARY_TIMEOUT_SECONDS = 180


def write_candidate(registry: ModelRegistry, version: str, artifact: Path) -> None:
    """Write a version's `.keras` artifact and its lean form beside it, for the canary.

    A version published without a lean form (an older trainer, a failed conversion) is
    converted here and the result stored with it; when that fails only the `.keras` file is
    written, and the canary refuses the candidate for it.
    """
    from reading.lean import lean_path, write_lean_beside

    artifact.write_bytes(registry.blob(version))
    lean = registry.lean_blob(version)
    if lean is not None:
        lean_path(artifact).write_bytes(lean)
        return
    try:
        lean = write_lean_beside(artifact).read_bytes()
    except Exception:  # the canary says what is wrong with the artifact, in its own words
        lean_path(artifact).unlink(missing_ok=True)
        return
    registry.attach_lean(version, lean)


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
    model_path = Path(argv[0])
    try:
        model = DigitModel.load(model_path, lean=False)  # the lean form is checked on its own
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
    digits = data.x_test[:CANARY_AGREEMENT_DIGITS].astype(np.float32) / 255.0
    lean_ok, lean_detail = check_lean_form(model, model_path, digits)
    if not lean_ok:
        return _report(result_path, False, f"canary: {lean_detail}")
    detail = (
        f"canary: loads in a fresh process and reads {right}/{CANARY_DIGITS} test digits; "
        f"{lean_detail}"
    )
    return _report(result_path, True, detail)


def check_lean_form(model: DigitModel, model_path: Path, digits: np.ndarray) -> tuple[bool, str]:
    """Does the lean form beside `model_path` give the Keras model's calibrated probabilities
    (what a worker answers with) to within MAX_ABS_DIFFERENCE on `digits`?"""
    import numpy as np

    from reading.calibration import apply_temperature
    from reading.lean import MAX_ABS_DIFFERENCE, RUNTIME_NAME, LeanModel, lean_path

    lean_file = lean_path(model_path)
    if not lean_file.exists():
        return False, (
            f"no {RUNTIME_NAME} form {lean_file.name} beside the model; write it with "
            f"`python -m reading.lean {model_path}`"
        )
    try:
        lean = LeanModel.from_file(lean_file, num_threads=1)
        if lean.num_classes != model.num_classes:
            raise ValueError(f"{lean.num_classes} classes, the Keras model {model.num_classes}")
        on_lean = apply_temperature(lean.run(digits[..., None]), model.temperature)
        difference = float(np.abs(on_lean - model.keras_probabilities(digits)).max())
    except Exception as exc:  # any failure of the lean form is a refusal
        return False, f"cannot load or run the {RUNTIME_NAME} form: {type(exc).__name__}: {exc}"
    if not difference <= MAX_ABS_DIFFERENCE:  # NaN fails too
        return False, (
            f"the {RUNTIME_NAME} form differs from the Keras model by {difference:.1e} on "
            f"{len(digits)} test digits (at most {MAX_ABS_DIFFERENCE:.0e} allowed)"
        )
    return True, f"its {RUNTIME_NAME} form agrees to {difference:.1e} on {len(digits)} digits"


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
