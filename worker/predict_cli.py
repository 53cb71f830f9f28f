"""`digitbot predict [--json] FILE...`: the workers' preprocessing and model, locally, no Redis."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from digitbot.errors import BadImageError
from worker.model import DigitModel, load_shipped_model
from worker.reading import read_photo
from worker.recognize import format_answer


def run_predict(files: list[str], *, as_json: bool, model_path: str | None = None) -> int:
    """Print one line per file; exit 0 when every file could be opened, 1 otherwise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model = DigitModel.load(Path(model_path)) if model_path else load_shipped_model()
    status = 0
    for name in files:
        record: dict[str, object] = {
            "file": name,
            "text": "",
            "confidence": 0.0,
            "model_version": model.version,
        }
        try:
            data = Path(name).read_bytes()
        except OSError as exc:
            record["error"] = f"cannot open: {exc.strerror or exc}"
            status = 1
        else:
            try:
                reading = read_photo(data, model)
            except BadImageError as exc:
                record["error"] = exc.user_message
            else:
                result = reading.recognition
                record.update(
                    text=result.text,
                    confidence=round(result.confidence, 6),
                    digits=[
                        {"digit": g.digit, "confidence": round(g.confidence, 6), "box": list(g.box)}
                        for g in result.digits
                    ],
                    reason=result.reason,
                    answer=format_answer(result),
                )
        if as_json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            answer = record.get("answer") or record.get("error")
            print(f"{name}: {answer}", flush=True)
    sys.stdout.flush()
    return status
