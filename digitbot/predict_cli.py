"""`digitbot predict [--json] [-r] FILE|DIR|-...`: the workers' preprocessing and model, locally,
no Redis.

Results go to stdout: one line per image, or with --json one JSON object per image (an image
that could not be read included, with its "error" and text ""). Without --json such an image
gets the line `FILE: error: ...` on stderr instead. The exit status is 1 if any file could not
be opened or is not an image, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from digitbot.errors import (
    BadImageError,
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
)
from reading.model import DigitModel, load_shipped_model
from reading.pipeline import read_photo
from reading.recognize import format_answer

STDIN = "-"
# Files read from a directory, by extension (a file named on the command line is always read).
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic"}
)


@dataclass(frozen=True)
class Input:
    """One image to read: its name in the output, and its bytes or why there are none."""

    name: str
    data: bytes | None = None
    error: str | None = None


def run_predict(
    files: list[str],
    *,
    as_json: bool,
    model_path: str | None = None,
    recursive: bool = False,
) -> int:
    """Print one result per image; return 1 when any file failed, 0 otherwise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model = DigitModel.load(Path(model_path)) if model_path else load_shipped_model()
    status = 0
    for item in inputs(files, recursive=recursive):
        record: dict[str, object] = {
            "file": item.name,
            "text": "",
            "confidence": 0.0,
            "model_version": model.version,
        }
        if item.error is not None:
            record["error"] = item.error
        else:
            assert item.data is not None
            try:
                reading = read_photo(item.data, model)
            except BadImageError as exc:
                record["error"] = image_error(exc)
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
        if "error" in record:
            status = 1
        if as_json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        elif "error" in record:
            print(f"{item.name}: error: {record['error']}", file=sys.stderr, flush=True)
        else:
            print(f"{item.name}: {record['answer']}", flush=True)
    return status


def inputs(names: list[str], *, recursive: bool = False) -> Iterator[Input]:
    """The images the command line names: files, the image files of directories (sorted, in
    subdirectories too when `recursive`), and `-` for stdin."""
    for name in names:
        if name == STDIN:
            yield Input(STDIN, data=sys.stdin.buffer.read())
        elif os.path.isdir(name):
            yield from directory_inputs(Path(name), name, recursive=recursive)
        else:
            yield read_input(Path(name), name)


def directory_inputs(root: Path, name: str, *, recursive: bool) -> Iterator[Input]:
    try:
        found = sorted(
            path
            for path in (root.rglob("*") if recursive else root.iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
        )
    except OSError as exc:
        yield Input(name, error=f"cannot open: {exc.strerror or exc}")
        return
    if not found:
        hint = "" if recursive else " (-r looks in its subdirectories too)"
        extensions = " ".join(sorted(IMAGE_SUFFIXES))
        yield Input(name, error=f"no image files ({extensions}) in this directory{hint}")
        return
    for path in found:
        yield read_input(path, str(path))


def read_input(path: Path, name: str) -> Input:
    try:
        return Input(name, data=path.read_bytes())
    except OSError as exc:
        return Input(name, error=f"cannot open: {exc.strerror or exc}")


def image_error(exc: BadImageError) -> str:
    """What is wrong with the file, for someone at a terminal (not the bot's wording)."""
    if isinstance(exc, NotAnImageError):
        if str(exc) == "empty upload":
            return "not an image: the file is empty"
        return "not an image (digitbot reads JPEG, PNG, HEIC, WebP, GIF, BMP and TIFF)"
    if isinstance(exc, ImageTooLargeError):
        return f"image too large: {exc}"
    if isinstance(exc, CorruptImageError):
        return f"damaged or truncated image: {exc}"
    return f"cannot read the image: {exc}"
