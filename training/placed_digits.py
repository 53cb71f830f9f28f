"""Training pictures from a second world: the grey-level digit placed as it is, then imaged.

`training.photo_synth` re-traces every digit with a pen, so its strokes have sharp edges and one
width. Pictures users send are often nothing like that: an MNIST digit saved as a file, a
thumbnail enlarged, a digit drawn on a canvas and screenshotted, a phone photo out of focus or
shaken, tilted, in low light, framed tightly round the digit or leaving it tiny. Here the
original 28x28 grey levels are kept (anti-aliased, soft edges, their own stroke widths) and
put through those transformations, each drawn at random:

  size          the digit from 12 to 420 px tall, resized by nearest, bilinear, bicubic or area
  polarity      dark ink on light paper, or light on dark (a screenshot of a dark canvas)
  levels        paper and ink grey levels, down to a low contrast
  frame         from a tight frame (the digit touching it) to a small digit on a wide page
  optics        defocus (Gaussian) or motion blur, a perspective tilt, uneven light
  sensor        noise, then PNG or JPEG at any quality

Non-digits for the "not a digit" class come from the same transformations applied to marks
drawn with anti-aliased lines (`training.negative_symbols`' symbols and hatching, letters in
Pillow's own font, single strokes and dots), and to pictures with no mark: a gradient, a
shadow, a table edge, a texture. Training only: digits come from MNIST's training split.
"""

from __future__ import annotations

import io
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.negative_symbols import hatching_polylines, symbol_polylines

MIN_DIGIT_SIDE, MAX_DIGIT_SIDE = 12, 420
# How much wider than the digit's box the picture is, per side: 0 is a tight frame.
MAX_MARGIN = 3.0
INTERPOLATIONS = (cv2.INTER_NEAREST, cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA)
# Pictures are made at most this large: preprocessing works at about this size.
MAX_PICTURE_SIDE = 640
LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZabcdefghkmnpqrstuvwxyz#%&@?!+=<>"
NEGATIVE_KINDS = ("symbol", "hatching", "letters", "stroke", "empty")
NEGATIVE_WEIGHTS = (0.35, 0.1, 0.3, 0.1, 0.15)


def place_digit(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """An encoded picture of one MNIST-style digit (uint8 28x28, ink bright)."""
    return _imaged(np.asarray(digit, np.float32) / 255.0, rng)


def place_negative(rng: np.random.Generator) -> bytes:
    """An encoded picture of something that is not a digit, or of no mark at all."""
    kind = str(rng.choice(NEGATIVE_KINDS, p=NEGATIVE_WEIGHTS))
    if kind == "empty":
        return _empty(rng)
    return _imaged(_mark(kind, rng), rng)


def _mark(kind: str, rng: np.random.Generator) -> np.ndarray:
    """A non-digit mark as soft ink coverage in [0, 1], ink bright, on a 28-ish canvas."""
    side = 112  # drawn 4x and brought down, so the lines are anti-aliased
    canvas = np.zeros((side, side), np.uint8)
    if kind == "letters":
        text = "".join(rng.choice(list(LETTERS), size=int(rng.integers(1, 4))))
        font = ImageFont.load_default(size=int(rng.integers(50, 80)))
        image = Image.new("L", (side * len(text), side), 0)
        ImageDraw.Draw(image).text((4, 4), text, fill=255, font=font)
        canvas = np.asarray(image)
    else:
        if kind == "symbol":
            lines = symbol_polylines(rng)
        elif kind == "hatching":
            lines = hatching_polylines(rng)
        else:  # one stroke: a dash, a slash, a curve
            t = np.linspace(0, 1, 20)
            bend = rng.uniform(-0.3, 0.3)
            angle = rng.uniform(0, np.pi)
            lines = [np.stack([t * np.cos(angle), t * np.sin(angle) + bend * t * (1 - t)], 1)]
        points = np.concatenate(lines)
        low, high = points.min(0), points.max(0)
        scale = 0.8 * side / max(1e-6, float((high - low).max()))
        width = int(rng.integers(3, 12))
        for line in lines:
            xy = ((line - low) * scale + 0.1 * side).astype(np.int32)
            cv2.polylines(canvas, [xy], False, 255, width, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas)
    if ys.size == 0:
        return np.zeros((28, 28), np.float32)
    canvas = canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    height, width = canvas.shape
    factor = 20.0 / max(height, width)
    small = cv2.resize(
        canvas,
        (max(1, round(width * factor)), max(1, round(height * factor))),
        interpolation=cv2.INTER_AREA,
    )
    out = np.zeros((28, max(28, small.shape[1] + 8)), np.float32)
    top, left = (28 - small.shape[0]) // 2, (out.shape[1] - small.shape[1]) // 2
    out[top : top + small.shape[0], left : left + small.shape[1]] = small / 255.0
    return out


def _imaged(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """Ink coverage (ink bright, any size) -> an encoded picture, through the world's steps."""
    rows, cols = np.flatnonzero(ink.max(1) > 0.05), np.flatnonzero(ink.max(0) > 0.05)
    if rows.size:
        ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    height, width = ink.shape
    side = float(np.exp(rng.uniform(np.log(MIN_DIGIT_SIDE), np.log(MAX_DIGIT_SIDE))))
    factor = side / max(height, width)
    new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
    ink = cv2.resize(ink, new_size, interpolation=int(rng.choice(INTERPOLATIONS)))
    ink = np.clip(ink, 0.0, 1.0)
    margin_x, margin_y = (rng.uniform(0, MAX_MARGIN, 2) ** 2) / MAX_MARGIN
    tight = rng.random() < 0.2
    if tight:
        margin_x, margin_y = rng.uniform(0, 0.08, 2)
    pad_x, pad_y = round(margin_x * ink.shape[1]), round(margin_y * ink.shape[0])
    page_h, page_w = ink.shape[0] + 2 * pad_y, ink.shape[1] + 2 * pad_x
    # Smaller than preprocessing's minimum picture side is no picture anyone sends.
    page_h, page_w = max(page_h, 16), max(page_w, 16)
    coverage = np.zeros((page_h, page_w), np.float32)
    top = int(rng.integers(0, page_h - ink.shape[0] + 1))
    left = int(rng.integers(0, page_w - ink.shape[1] + 1))
    coverage[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    coverage = _optics(coverage, rng)
    return _encoded(_exposed(coverage, rng), rng)


def _optics(coverage: Any, rng: np.random.Generator) -> np.ndarray:
    size = max(coverage.shape)
    choice = rng.random()
    if choice < 0.3:
        sigma = rng.uniform(0.3, 0.025 * size + 0.5)
        coverage = cv2.GaussianBlur(coverage, (0, 0), sigma)
    elif choice < 0.45:
        length = max(3, int(rng.uniform(0.01, 0.05) * size))
        kernel: Any = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        centre = (length / 2 - 0.5, length / 2 - 0.5)
        rotation = cv2.getRotationMatrix2D(centre, rng.uniform(0, 180), 1)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        coverage = cv2.filter2D(coverage, -1, kernel / max(1e-6, float(kernel.sum())))
    if rng.random() < 0.35:
        h, w = coverage.shape
        corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        jitter = rng.uniform(-0.08, 0.08, (4, 2)) * np.array([w, h], np.float32)
        matrix = cv2.getPerspectiveTransform(corners, (corners + jitter).astype(np.float32))
        coverage = cv2.warpPerspective(coverage, matrix, (w, h), flags=cv2.INTER_LINEAR)
    return np.clip(coverage, 0.0, 1.0)


def _exposed(coverage: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Coverage -> grey levels in [0, 255]: paper and ink levels, light, noise."""
    dark_ink = rng.random() < 0.7
    paper = rng.uniform(0.55, 1.0) if dark_ink else rng.uniform(0.0, 0.3)
    contrast = rng.uniform(0.25, 1.0)
    ink_level = paper - contrast * paper if dark_ink else paper + contrast * (1 - paper)
    grey = paper + (ink_level - paper) * coverage
    if rng.random() < 0.4:  # uneven light: a gradient across the picture
        h, w = grey.shape
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * gx / w + np.sin(angle) * gy / h) * rng.uniform(0.1, 0.4)
        grey = grey * (1.0 - ramp - ramp.min())
    noise = rng.uniform(0, 0.05)
    grey = grey + rng.normal(0, noise, grey.shape)
    return np.clip(grey * 255.0, 0, 255).astype(np.uint8)


def _empty(rng: np.random.Generator) -> bytes:
    """A picture with no mark: plain, a gradient, a shadow, a table edge or a texture."""
    h, w = (int(v) for v in rng.integers(40, MAX_PICTURE_SIDE, 2))
    base = rng.uniform(0.4, 1.0)
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    grey: Any = np.full((h, w), base, np.float32)
    kind = int(rng.integers(4))
    if kind == 0:  # a soft shadow
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.2, 0.8) * max(h, w)
        shade = np.exp(-(((gx - cx) ** 2 + (gy - cy) ** 2) / (2 * r * r)))
        grey = grey * (1 - rng.uniform(0.2, 0.6) * shade)
    elif kind == 1:  # the table beyond the sheet, along one side
        depth = rng.uniform(0.05, 0.3)
        edge = {0: gx < depth * w, 1: gx > (1 - depth) * w, 2: gy < depth * h}.get(
            int(rng.integers(4)), gy > (1 - depth) * h
        )
        grey = np.where(edge, rng.uniform(0.05, 0.4), grey)
        grey = cv2.GaussianBlur(grey.astype(np.float32), (0, 0), rng.uniform(0.5, 3))
    elif kind == 2:  # a texture: paper grain or a fabric
        grain = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 2)
        grey = grey + rng.uniform(0.02, 0.08) * grain / max(1e-6, float(grain.std()))
    grey = grey + rng.normal(0, rng.uniform(0, 0.03), grey.shape)
    return _encoded(np.clip(grey * 255, 0, 255).astype(np.uint8), rng)


def _encoded(grey: np.ndarray, rng: np.random.Generator) -> bytes:
    h, w = grey.shape
    if max(h, w) > MAX_PICTURE_SIDE:
        factor = MAX_PICTURE_SIDE / max(h, w)
        size = (round(w * factor), round(h * factor))
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    image = Image.fromarray(grey)
    if rng.random() < 0.5:
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format="JPEG", quality=int(rng.integers(40, 96)))
    return buffer.getvalue()
