"""Photos with no digit: blank or ruled paper, a dash, dots, letters, a scribble; and, for
training only, symbols and hatching (`training.negative_symbols`)."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.photo_synth.camera import photograph
from training.photo_synth.strokes import Strokes, polyline_strokes, polylines_strokes, row_of, trace
from training.photo_synth.style import random_style

NEGATIVE_KINDS = ("blank", "ruled", "dash", "dot", "letters", "scribble")
# Kinds only the training crops draw (training.negative_symbols); the benchmark's negatives
# set keeps NEGATIVE_KINDS, so its photos stay the same.
TRAINING_ONLY_NEGATIVE_KINDS = ("symbol", "hatching")
# Letters that do not pass for a digit when handwritten (no O, l, S, Z, B, G, q, ...).
LETTERS = "acefhkmnprtuvwxACEFHKMNPRUVWX"


def render_negative(
    rng: np.random.Generator, *, kind: str | None = None, max_side: int | None = None
) -> bytes:
    """A photo with no digit: blank or ruled paper, a dash, dots, letters or a scribble."""
    data, _ = negative_photo(rng, kind, max_side)
    return data


def negative_photo(
    rng: np.random.Generator, kind: str | None, max_side: int | None = None
) -> tuple[bytes, dict[str, Any]]:
    """A photo of `kind` (one of NEGATIVE_KINDS at random when None) and its metadata."""
    kind = kind or str(rng.choice(NEGATIVE_KINDS))
    known = NEGATIVE_KINDS + TRAINING_ONLY_NEGATIVE_KINDS
    if kind not in known:
        raise ValueError(f"unknown negative kind {kind!r}; expected one of {known}")
    style = random_style(rng, num_digits=3 if kind == "letters" else 1, max_side=max_side)
    if kind == "ruled" and style.ruling == "none":
        style = replace(
            style, ruling=str(rng.choice(["lined", "grid"])), ink="black", paper_level=0.9
        )
    height = style.digit_height
    radius = max(0.6, style.stroke_fraction * height / 2.0)
    row: np.ndarray | None = None
    boxes: list[tuple[int, int, int, int]] = []
    if kind == "dash":
        length = height * rng.uniform(0.5, 1.3)
        t = np.linspace(0, 1, 24)
        bow = rng.uniform(-0.06, 0.06) * length
        points = np.stack([t * length, bow * np.sin(np.pi * t)], axis=1)
        row, boxes = row_of([polyline_strokes(points)], height, rng)
    elif kind == "dot":
        count = int(rng.integers(1, 3))
        strokes = []
        for _ in range(count):
            size = max(2.0, rng.uniform(0.04, 0.12) * height)
            t = np.linspace(0, 2 * np.pi, 12)
            strokes.append(polyline_strokes(np.stack([np.cos(t), np.sin(t)], axis=1) * size / 2))
        radius = max(radius, 1.5)
        row, boxes = row_of(strokes, height, rng)
    elif kind == "letters":
        count = int(rng.integers(1, 4))
        text = "".join(rng.choice(list(LETTERS), size=count))
        row, boxes = row_of([_letter_lines(c, height) for c in text], height, rng)
    elif kind == "scribble":
        row, boxes = row_of([_scribble_lines(height, rng)], height, rng)
    elif kind in TRAINING_ONLY_NEGATIVE_KINDS:
        from training.negative_symbols import hatching_polylines, symbol_polylines

        lines = symbol_polylines(rng) if kind == "symbol" else hatching_polylines(rng)
        size = height * rng.uniform(0.7, 1.5)
        row, boxes = row_of([polylines_strokes([line * size for line in lines])], height, rng)
    data, _ = photograph(style, rng, row, boxes, radius)
    return data, {"style": asdict(style), "boxes": [], "kind": kind}


def _letter_lines(letter: str, height: float) -> Strokes:
    """A printed letter, traced to centre lines, so it is drawn with the same pens as digits."""
    font = ImageFont.load_default(size=64)
    canvas = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(canvas).text((16, 8), letter, fill=255, font=font)
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    rows = np.flatnonzero(ink.max(axis=1) > 0.2)
    cols = np.flatnonzero(ink.max(axis=0) > 0.2)
    ink = np.pad(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 2)
    # Scaled by the font's cap height (about 46 px at size 64): lowercase comes out shorter.
    return trace(ink, scale=height / 46.0)


def _scribble_lines(height: float, rng: np.random.Generator) -> Strokes:
    """A tangle of loops about a digit high: a few circles drifting along, plus wobble."""
    turns = rng.uniform(2.5, 6.0)
    t = np.linspace(0.0, 2 * np.pi * turns, int(60 * turns))
    drift = rng.uniform(0.3, 1.2)
    x = np.cos(t + rng.uniform(0, np.pi)) + drift * t / t[-1] * 2 + 0.3 * np.sin(3.1 * t)
    y = np.sin(t) * rng.uniform(0.6, 1.0) + 0.25 * np.cos(2.3 * t + rng.uniform(0, np.pi))
    points = np.stack([x, y], axis=1) + rng.normal(0, 0.05, size=(t.size, 2)).cumsum(axis=0) * 0.2
    span = points.max(axis=0) - points.min(axis=0)
    size = np.array([height * rng.uniform(0.9, 1.8), height])
    return polyline_strokes((points - points.min(axis=0)) / np.maximum(span, 1e-6) * size)
