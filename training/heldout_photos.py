"""A photo renderer for evaluation only: training never uses it.

It differs from `training.photo_synth` (the renderer behind our benchmark and our training
crops) in its physics on purpose. photo_synth re-traces every digit with a pen, so its strokes
have sharp edges and one width; here the MNIST *test* digit's own grey levels are the ink's
coverage (soft, anti-aliased edges, the writer's own stroke widths), laid on paper of its own
colour and light, then the picture goes through a camera model of its own: perspective,
defocus or motion blur, sensor noise, JPEG. Negatives are drawn with their own primitives
(font letters, geometric symbols, hatching, sheet and table edges, shadows).

Seeds are its own (HELDOUT_SEED); digits come only from MNIST's test split.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from training.photo_synth import PhotoSample

HELDOUT_SEED = 8_675_309
HELDOUT_SETS = ("single", "numbers", "negatives")
FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono-Bold.ttf")
NEGATIVE_TEXT = "ABCDEFGHKLMNPRWXYZabdefhkmnrtwxyz"
NEGATIVE_KINDS = ("letters", "symbol", "hatching", "scribble", "empty-paper", "edge", "shadow")


def build_heldout_set(
    name: str, digits: tuple[np.ndarray, np.ndarray], n: int, *, draw: int = 0
) -> list[PhotoSample]:
    """`n` photos of the set `name` (one of HELDOUT_SETS); `digits` are MNIST test digits."""
    if name not in HELDOUT_SETS:
        raise ValueError(f"unknown held-out set {name!r}; expected one of {HELDOUT_SETS}")
    rng = np.random.default_rng([HELDOUT_SEED, HELDOUT_SETS.index(name), draw])
    images, labels = digits
    samples = []
    for _ in range(n):
        if name == "negatives":
            kind = NEGATIVE_KINDS[int(rng.integers(len(NEGATIVE_KINDS)))]
            coverage = _NEGATIVES[kind](rng)
            label, indices = "", []
        else:
            count = 1 if name == "single" else int(rng.integers(2, 5))
            indices = [int(i) for i in rng.integers(0, len(images), count)]
            coverage = _number_coverage([images[i] for i in indices], rng)
            label = "".join(str(int(labels[i])) for i in indices)
        data = _photograph(coverage, rng)
        samples.append(PhotoSample(data, label, {"renderer": "heldout", "source_indices": indices}))
    return samples


# -- digits ------------------------------------------------------------------------------


def _number_coverage(digits: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """The digits' own grey levels side by side, as ink coverage in [0, 1]."""
    height = int(rng.choice([24, 40, 64, 110, 180, 280]) * rng.uniform(0.8, 1.2))
    pieces = []
    for digit in digits:
        cols = np.flatnonzero(digit.max(axis=0) > 30)
        tight = digit[:, cols[0] : cols[-1] + 1] if cols.size else digit
        scale = height / 28.0 * rng.uniform(0.9, 1.1)
        size = (max(2, round(tight.shape[1] * scale)), max(2, round(28 * scale)))
        pieces.append(np.asarray(Image.fromarray(tight).resize(size, Image.Resampling.BICUBIC)))
    gap = int(height * rng.uniform(0.02, 0.25))
    tallest = max(p.shape[0] for p in pieces)
    width = sum(p.shape[1] for p in pieces) + gap * (len(pieces) - 1)
    strip = np.zeros((tallest + height // 4, width), dtype=np.float32)
    x = 0
    for piece in pieces:
        y = int(rng.integers(0, height // 8 + 1))
        region = strip[y : y + piece.shape[0], x : x + piece.shape[1]]
        np.maximum(region, piece[: region.shape[0]].astype(np.float32) / 255.0, out=region)
        x += piece.shape[1] + gap
    return _on_sheet(strip, rng)


def _on_sheet(mark: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Place a coverage mark on a blank sheet with a random margin (tight to roomy)."""
    margin = rng.choice([0.05, 0.3, 0.8, 1.5])
    height = int(mark.shape[0] * (1 + 2 * margin * rng.uniform(0.7, 1.3)))
    width = int(max(mark.shape[1] * (1 + 2 * margin), height * rng.uniform(0.75, 1.4)))
    sheet = np.zeros((max(height, mark.shape[0] + 2), max(width, mark.shape[1] + 2)), np.float32)
    y = int(rng.integers(0, sheet.shape[0] - mark.shape[0] + 1))
    x = int(rng.integers(0, sheet.shape[1] - mark.shape[1] + 1))
    sheet[y : y + mark.shape[0], x : x + mark.shape[1]] = mark
    return sheet


# -- negatives ---------------------------------------------------------------------------


def _canvas(rng: np.random.Generator) -> tuple[Image.Image, ImageDraw.ImageDraw, int]:
    side = int(rng.integers(200, 480))
    image = Image.new("L", (side, int(side * rng.uniform(0.7, 1.3))), 0)
    return image, ImageDraw.Draw(image), side


def _letters(rng: np.random.Generator) -> np.ndarray:
    image, draw, side = _canvas(rng)
    font_file = FONT_DIR / FONT_FILES[int(rng.integers(len(FONT_FILES)))]
    font = ImageFont.truetype(str(font_file), int(side * rng.uniform(0.15, 0.45)))
    text = "".join(rng.choice(list(NEGATIVE_TEXT), int(rng.integers(1, 4))))
    draw.text((side * 0.15, side * 0.2), text, fill=255, font=font)
    return np.asarray(image.rotate(float(rng.uniform(-15, 15))), dtype=np.float32) / 255.0


def _symbol(rng: np.random.Generator) -> np.ndarray:
    image, draw, side = _canvas(rng)
    c, r = side / 2, side * rng.uniform(0.15, 0.35)
    width = max(2, int(side * rng.uniform(0.01, 0.04)))
    kind = int(rng.integers(6))
    if kind == 0:  # a cross
        draw.line([(c - r, c - r), (c + r, c + r)], fill=255, width=width)
        draw.line([(c - r, c + r), (c + r, c - r)], fill=255, width=width)
    elif kind == 1:  # an arrow
        draw.line([(c - r, c), (c + r, c)], fill=255, width=width)
        draw.line([(c + r, c), (c + r / 2, c - r / 2)], fill=255, width=width)
        draw.line([(c + r, c), (c + r / 2, c + r / 2)], fill=255, width=width)
    elif kind == 2:  # a star
        points = [
            (c + (r if k % 2 == 0 else r / 2.5) * np.cos(k * np.pi / 5 - np.pi / 2),
             c + (r if k % 2 == 0 else r / 2.5) * np.sin(k * np.pi / 5 - np.pi / 2))
            for k in range(11)
        ]  # fmt: skip
        draw.line(points, fill=255, width=width)
    elif kind == 3:  # a face
        draw.ellipse([c - r, c - r, c + r, c + r], outline=255, width=width)
        draw.ellipse([c - r / 2, c - r / 3, c - r / 4, c - r / 6], fill=255)
        draw.ellipse([c + r / 4, c - r / 3, c + r / 2, c - r / 6], fill=255)
        draw.arc([c - r / 2, c - r / 4, c + r / 2, c + r / 2], 20, 160, fill=255, width=width)
    elif kind == 4:  # a square or triangle
        if rng.random() < 0.5:
            draw.rectangle([c - r, c - r, c + r, c + r], outline=255, width=width)
        else:
            draw.polygon([(c, c - r), (c + r, c + r), (c - r, c + r)], outline=255, width=width)
    else:  # a circled cross
        draw.ellipse([c - r, c - r, c + r, c + r], outline=255, width=width)
        draw.line([(c, c - r), (c, c + r)], fill=255, width=width)
        draw.line([(c - r, c), (c + r, c)], fill=255, width=width)
    return np.asarray(image, dtype=np.float32) / 255.0


def _hatching(rng: np.random.Generator) -> np.ndarray:
    image, draw, side = _canvas(rng)
    x0, size = side * 0.25, side * rng.uniform(0.2, 0.5)
    step = size / rng.integers(5, 12)
    for k in range(int(size / step) + 1):
        offset = k * step
        draw.line([(x0 + offset, x0), (x0, x0 + offset)], fill=255, width=2)
    return np.asarray(image, dtype=np.float32) / 255.0


def _scribble(rng: np.random.Generator) -> np.ndarray:
    image, draw, side = _canvas(rng)
    steps = rng.normal(0, side * 0.08, (int(rng.integers(20, 60)), 2)).cumsum(axis=0)
    points = steps - steps.mean(axis=0) + side / 2
    draw.line([tuple(p) for p in points], fill=255, width=int(rng.integers(2, 6)), joint="curve")
    return np.asarray(image, dtype=np.float32) / 255.0


def _empty_paper(rng: np.random.Generator) -> np.ndarray:
    image, draw, side = _canvas(rng)
    step = int(side * rng.uniform(0.05, 0.12))
    level = int(rng.integers(60, 140))
    for y in range(step, image.height, step):
        draw.line([(0, y), (image.width, y)], fill=level, width=1)
    if rng.random() < 0.5:  # squared paper
        for x in range(step, image.width, step):
            draw.line([(x, 0), (x, image.height)], fill=level, width=1)
    return np.asarray(image, dtype=np.float32) / 255.0


def _edge(rng: np.random.Generator) -> np.ndarray:
    """The sheet's edge with the dark table beyond it."""
    image, draw, side = _canvas(rng)
    x = side * rng.uniform(0.6, 0.9)
    corners = [
        (x, 0),
        (image.width, 0),
        (image.width, image.height),
        (x - side * 0.1, image.height),
    ]
    draw.polygon(corners, fill=int(rng.integers(120, 230)))
    return np.asarray(image, dtype=np.float32) / 255.0


def _shadow(rng: np.random.Generator) -> np.ndarray:
    image, draw, side = _canvas(rng)
    r = side * rng.uniform(0.2, 0.5)
    c = side * rng.uniform(0.0, 0.6)
    draw.ellipse([c, c, c + 2 * r, c + 1.5 * r], fill=int(rng.integers(60, 140)))
    blurred = cv2.GaussianBlur(np.asarray(image, np.float32), (0, 0), side * 0.06)
    return blurred / 255.0


_NEGATIVES: dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    "letters": _letters,
    "symbol": _symbol,
    "hatching": _hatching,
    "scribble": _scribble,
    "empty-paper": _empty_paper,
    "edge": _edge,
    "shadow": _shadow,
}


# -- the camera --------------------------------------------------------------------------


def _photograph(coverage: np.ndarray, rng: np.random.Generator) -> bytes:
    """Ink coverage -> JPEG bytes of a colour photo of it."""
    height, width = coverage.shape
    paper = rng.uniform(0.72, 1.0, 3).astype(np.float32)
    ink = rng.uniform(0.0, 0.35, 3).astype(np.float32)
    if rng.random() < 0.2:  # a whiteboard marker or chalk: light ink on dark
        paper, ink = ink * 0.6, paper
    alpha = np.clip(coverage * rng.uniform(0.7, 1.0), 0.0, 1.0)[..., None]
    picture = paper * (1 - alpha) + ink * alpha
    # Light falls off across the sheet.
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.normal(size=2)
    ramp = xx / width * direction[0] + yy / height * direction[1]
    ramp /= max(1e-3, float(np.abs(direction).sum()))
    picture = picture * (1.0 - rng.uniform(0.0, 0.35) * (ramp - ramp.min()))[..., None]
    picture = _perspective(picture, rng)
    picture = _blur(picture, rng, scale=max(height, width))
    picture += rng.normal(0, rng.uniform(0.0, 0.03), picture.shape).astype(np.float32)
    rgb = np.clip(picture * 255 + 0.5, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=int(rng.integers(40, 96)))
    return out.getvalue()


def _perspective(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = picture.shape[:2]
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    jitter = (rng.uniform(-0.07, 0.07, (4, 2)) * [width, height]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(corners, corners + jitter)
    border = tuple(float(v) for v in picture[0, 0])
    return cv2.warpPerspective(
        picture, matrix, (width, height), borderMode=cv2.BORDER_CONSTANT, borderValue=border
    )


def _blur(picture: np.ndarray, rng: np.random.Generator, *, scale: int) -> np.ndarray:
    kind = rng.random()
    if kind < 0.35:  # defocus
        return cv2.GaussianBlur(picture, (0, 0), max(0.3, rng.uniform(0.0, 0.008) * scale))
    if kind < 0.6:  # a shaken hand
        length = max(3, int(rng.uniform(0.005, 0.02) * scale)) | 1
        line = np.zeros((length, length), np.float32)
        line[length // 2, :] = 1.0 / length
        rotation = cv2.getRotationMatrix2D((length / 2, length / 2), rng.uniform(0, 180), 1.0)
        kernel = np.asarray(cv2.warpAffine(line, rotation, (length, length)))
        kernel = (kernel / max(float(kernel.sum()), 1e-6)).astype(np.float32)
        return np.asarray(cv2.filter2D(picture, -1, kernel))
    return picture
