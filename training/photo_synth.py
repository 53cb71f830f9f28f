"""Phone-like photos of handwritten digits, made from 28x28 digit images, reproducibly.

Each digit's strokes are traced to centre lines and drawn again with a pen (ballpoint, marker,
pencil or chalk) at photo size, then put on paper with uneven light, a shadow, ruled or squared
lines, sometimes the edge of the sheet, blur, sensor noise and JPEG compression; some files are
stored rotated with an EXIF orientation tag, the way phones do. Everything random comes from the
`numpy.random.Generator` passed in, so a seed gives the same bytes every time.

The benchmark sets (`build_photo_set`) draw from MNIST's *test* digits and sklearn's optdigits
only, never from MNIST's training digits.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage as ndi

SET_NAMES = ("mnist-single", "optdigits-single", "numbers", "negatives")
# Fixed seeds, one per set, so that every run of the benchmark sees the same photos.
DEFAULT_SEEDS = {
    "mnist-single": 20_240_101,
    "optdigits-single": 20_240_202,
    "numbers": 20_240_303,
    "negatives": 20_240_404,
}
DEFAULT_SET_SIZE = 200

INKS = ("black", "blue", "pencil", "chalk")
INK_WEIGHTS = (0.35, 0.3, 0.15, 0.2)
RULINGS = ("none", "lined", "grid")
RULING_WEIGHTS = (0.45, 0.35, 0.2)
EXIF_ORIENTATIONS = (3, 6, 8)
EXIF_TAGGED_SHARE = 0.25
NEGATIVE_KINDS = ("blank", "ruled", "dash", "dot", "letters", "scribble")
# Kinds only the training crops draw (training.negative_symbols); the benchmark's negatives
# set keeps NEGATIVE_KINDS, so its photos stay the same.
TRAINING_ONLY_NEGATIVE_KINDS = ("symbol", "hatching")
# Letters that do not pass for a digit when handwritten (no O, l, S, Z, B, G, q, ...).
LETTERS = "acefhkmnprtuvwxACEFHKMNPRUVWX"
# Skeletons are traced at most this tall, then drawn at photo size, from the ink above one of
# these levels (see _ink_mask).
TRACE_HEIGHT = 96
TRACE_LEVELS = (0.45, 0.55, 0.65)

_EXIF_ORIENTATION_TAG = 0x0112
# The stored pixels are the upright picture turned the opposite way of the tag's display turn.
_STORE_TRANSPOSE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class PhotoStyle:
    """Everything that decides how one photo looks, apart from the digits themselves."""

    width: int
    height: int
    ink: str  # one of INKS
    paper_level: float  # paper (or board) brightness before lighting, 0..1
    paper_tint: tuple[float, float, float]
    ruling: str  # one of RULINGS
    ruling_spacing: int  # px
    light_gradient: float  # 0: even light; 0.5: half as bright on the dark side
    shadow: float  # 0: none; else how much the shadow darkens
    blur: float  # gaussian sigma in px
    noise: float  # sensor noise sigma, 0..1 scale
    rotation: float  # degrees, counter-clockwise
    digit_height: int  # px, mean over the digits
    stroke_fraction: float  # pen width / digit height
    jpeg_quality: int
    exif_orientation: int  # 1 (none), 3, 6 or 8
    page_edge: str  # "", "left", "right", "top" or "bottom": the table shows on that side


@dataclass(frozen=True)
class PhotoSample:
    """One benchmark photo: JPEG bytes and the digits it shows ("" for none)."""

    data: bytes
    label: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def random_style(
    rng: np.random.Generator, *, num_digits: int = 1, max_side: int | None = None
) -> PhotoStyle:
    """A random but plausible photo style for `num_digits` digits in a row.

    With `max_side`, a larger photo is scaled down to it as a whole (sizes, line spacing and
    blur), after every random draw, so the draws stay the same as without it.
    """
    long_side = int(rng.integers(640, 1281))
    aspect = float(rng.choice([4 / 3, 16 / 9, 1.0]))
    short_side = int(round(long_side / aspect))
    width, height = (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)
    ink = str(rng.choice(INKS, p=INK_WEIGHTS))
    chalk = ink == "chalk"
    ruling = "none" if chalk else str(rng.choice(RULINGS, p=RULING_WEIGHTS))
    # Digits from a twelfth of the short side up to most of it; a row must fit the width.
    low, high = 0.08 * min(width, height), 0.6 * min(width, height)
    high = min(high, 0.8 * width / (0.95 * num_digits + 0.1))
    digit_height = int(np.exp(rng.uniform(np.log(low), np.log(max(low + 1, high)))))
    stroke_low = max(0.025, 1.8 / digit_height)
    stroke_fraction = float(np.exp(rng.uniform(np.log(stroke_low), np.log(max(stroke_low, 0.14)))))
    tint = (1.0, 1.0 - rng.uniform(0, 0.06), 1.0 - rng.uniform(0, 0.15))
    style = PhotoStyle(
        width=width,
        height=height,
        ink=ink,
        paper_level=float(rng.uniform(0.12, 0.3) if chalk else rng.uniform(0.7, 0.97)),
        paper_tint=(0.9, 1.0, 0.95) if chalk else tint,
        ruling=ruling,
        ruling_spacing=int(rng.uniform(0.035, 0.09) * max(width, height)),
        light_gradient=float(rng.uniform(0.0, 0.45)),
        shadow=float(rng.uniform(0.2, 0.55)) if rng.random() < 0.4 else 0.0,
        blur=float(rng.uniform(0.0, 1.6)),
        noise=float(rng.uniform(0.004, 0.03)),
        rotation=float(rng.uniform(-12.0, 12.0)),
        digit_height=digit_height,
        stroke_fraction=stroke_fraction,
        jpeg_quality=int(rng.integers(55, 91)),
        exif_orientation=int(rng.choice(EXIF_ORIENTATIONS))
        if rng.random() < EXIF_TAGGED_SHARE
        else 1,
        page_edge=str(rng.choice(["left", "right", "top", "bottom"])) if rng.random() < 0.2 else "",
    )
    return _scaled_down(style, max_side) if max_side else style


def _scaled_down(style: PhotoStyle, max_side: int) -> PhotoStyle:
    factor = max_side / max(style.width, style.height)
    if factor >= 1.0:
        return style
    return replace(
        style,
        width=max(32, round(style.width * factor)),
        height=max(32, round(style.height * factor)),
        digit_height=max(14, round(style.digit_height * factor)),
        ruling_spacing=max(6, round(style.ruling_spacing * factor)),
        blur=style.blur * factor,
    )


def render_photo(
    digits: Sequence[np.ndarray], rng: np.random.Generator, *, style: PhotoStyle | None = None
) -> tuple[bytes, dict[str, Any]]:
    """Photograph one or more 28x28 uint8 digits (ink bright) written in a row.

    Returns JPEG bytes and metadata: the style, and each digit's box (x0, y0, x1, y1) in the
    upright (EXIF-applied) picture.
    """
    if len(digits) == 0:
        raise ValueError("render_photo needs at least one digit image")
    style = style or random_style(rng, num_digits=len(digits))
    radius = max(0.6, style.stroke_fraction * style.digit_height / 2.0)
    lines = []
    for digit in digits:
        height = style.digit_height * rng.uniform(0.88, 1.12)
        lines.append(_digit_centre_lines(np.asarray(digit), height))
    row, boxes = _row_of(lines, style.digit_height, rng)
    data, frame_boxes = _photograph(style, rng, row, boxes, radius)
    return data, {"style": asdict(style), "boxes": frame_boxes, "kind": "digits"}


def render_negative(
    rng: np.random.Generator, *, kind: str | None = None, max_side: int | None = None
) -> bytes:
    """A photo with no digit: blank or ruled paper, a dash, dots, letters or a scribble."""
    data, _ = _render_negative(rng, kind, max_side)
    return data


def build_photo_set(
    name: str,
    digits_source: tuple[np.ndarray, np.ndarray] | None,
    n: int,
    seed: int | None = None,
) -> list[PhotoSample]:
    """`n` photos of the named set (see SET_NAMES), the same for the same seed.

    `digits_source` is (images uint8 (N, 28, 28) ink bright, labels): MNIST's test digits for
    "mnist-single" and "numbers", optdigits for "optdigits-single"; None for "negatives".
    """
    if name not in SET_NAMES:
        raise ValueError(f"unknown photo set {name!r}; expected one of {', '.join(SET_NAMES)}")
    rng = np.random.default_rng(DEFAULT_SEEDS[name] if seed is None else seed)
    samples = []
    if name == "negatives":
        for _ in range(n):
            data, meta = _render_negative(rng, None)
            samples.append(PhotoSample(data, "", meta))
        return samples
    if digits_source is None:
        raise ValueError(f"photo set {name!r} needs digit images and labels")
    images, labels = digits_source
    for _ in range(n):
        count = int(rng.integers(2, 5)) if name == "numbers" else 1
        picks = rng.integers(0, len(images), size=count)
        data, meta = render_photo([images[i] for i in picks], rng)
        meta["source_indices"] = picks.tolist()
        label = "".join(str(int(labels[i])) for i in picks)
        samples.append(PhotoSample(data, label, meta))
    return samples


def load_photo_sets(home: Path, *, n: int = DEFAULT_SET_SIZE) -> dict[str, list[PhotoSample]]:
    """All benchmark sets with their default seeds: MNIST test digits and optdigits."""
    from training.datasets import load_mnist, load_optdigits

    mnist = load_mnist(home)
    test_digits = (mnist.x_test, mnist.y_test)
    return {
        "mnist-single": build_photo_set("mnist-single", test_digits, n),
        "optdigits-single": build_photo_set("optdigits-single", load_optdigits(), n),
        "numbers": build_photo_set("numbers", test_digits, n),
        "negatives": build_photo_set("negatives", None, n),
    }


# --- drawing strokes ------------------------------------------------------------------------


@dataclass
class _Strokes:
    """Centre lines of some writing at photo scale, as a bool image, and its ink box."""

    lines: np.ndarray

    @property
    def height(self) -> int:
        return int(self.lines.shape[0])

    @property
    def width(self) -> int:
        return int(self.lines.shape[1])


def _digit_centre_lines(digit: np.ndarray, height: float) -> _Strokes:
    """Trace a 28x28 digit's strokes and draw the trace `height` pixels tall (MNIST box = 20)."""
    ink = digit.astype(np.float32) / 255.0
    rows = np.flatnonzero(ink.max(axis=1) > 0.2)
    cols = np.flatnonzero(ink.max(axis=0) > 0.2)
    if rows.size == 0:
        raise ValueError("a digit image without ink")
    ink = np.pad(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 2)
    return _trace(ink, scale=height / 20.0)


def _trace(ink: np.ndarray, *, scale: float) -> _Strokes:
    """Skeleton of a soft ink image, traced small and drawn as connected lines at `scale`."""
    trace_scale = min(scale, TRACE_HEIGHT / ink.shape[0])
    size = (max(2, round(ink.shape[1] * trace_scale)), max(2, round(ink.shape[0] * trace_scale)))
    upsampled = np.asarray(
        Image.fromarray(ink.astype(np.float32)).resize(size, Image.Resampling.BICUBIC)
    )
    skeleton = _thin(_ink_mask(upsampled))
    return _draw_skeleton(skeleton, scale / trace_scale)


def _ink_mask(soft: np.ndarray) -> np.ndarray:
    """Threshold a soft digit so its loops stay open without breaking its strokes.

    Blurry digits (optdigits are 8x8 upsampled) fill their loops at a low threshold and
    break at a high one: take the level that shows the most holes without more pieces.
    """
    best_mask, best_holes = None, -1
    pieces_allowed = 0
    for level in TRACE_LEVELS:
        mask = soft > level
        pieces = ndi.label(mask, structure=np.ones((3, 3)))[1]
        holes = ndi.label(np.pad(~mask, 1, constant_values=True))[1] - 1
        if best_mask is None:
            pieces_allowed = pieces
        if pieces <= pieces_allowed and holes > best_holes:
            best_mask, best_holes = mask, holes
    assert best_mask is not None
    return best_mask


def _draw_skeleton(skeleton: np.ndarray, factor: float) -> _Strokes:
    """Connect neighbouring skeleton pixels with line segments on a `factor` times larger image."""
    ys, xs = np.nonzero(skeleton)
    if ys.size == 0:
        return _Strokes(np.zeros((2, 2), dtype=bool))
    y0, x0 = ys.min(), xs.min()
    height = int(np.ceil((ys.max() - y0 + 1) * factor)) + 1
    width = int(np.ceil((xs.max() - x0 + 1) * factor)) + 1
    image = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(image)
    present = set(zip(ys.tolist(), xs.tolist(), strict=True))
    for y, x in present:
        start = ((x - x0 + 0.5) * factor, (y - y0 + 0.5) * factor)
        draw.point(start, fill=1)
        for dy, dx in ((0, 1), (1, -1), (1, 0), (1, 1)):
            if (y + dy, x + dx) in present:
                end = ((x + dx - x0 + 0.5) * factor, (y + dy - y0 + 0.5) * factor)
                draw.line([start, end], fill=1, width=1)
    return _Strokes(np.asarray(image, dtype=bool))


def _polyline_strokes(points: np.ndarray) -> _Strokes:
    """A polyline (N, 2) of (x, y) as centre lines."""
    return _polylines_strokes([points])


def _polylines_strokes(lines: Sequence[np.ndarray]) -> _Strokes:
    """Several polylines of (x, y), in one picture, as centre lines."""
    low = np.min([line.min(axis=0) for line in lines], axis=0)
    # Shifted as (line - low) + 1, the order of operations the single-line drawing always had,
    # so the benchmark's photos stay the same to the last bit.
    shifted = [line - low + 1 for line in lines]
    width, height = np.ceil(np.max([line.max(axis=0) for line in shifted], axis=0)) + 2
    image = Image.new("1", (int(width), int(height)), 0)
    draw = ImageDraw.Draw(image)
    for line in shifted:
        draw.line([tuple(p) for p in line.tolist()], fill=1, width=1)
    return _Strokes(np.asarray(image, dtype=bool))


def _row_of(
    strokes: list[_Strokes], digit_height: int, rng: np.random.Generator
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """Centre lines of several marks side by side with natural gaps and a wavy baseline."""
    gaps = [int(rng.uniform(0.12, 0.45) * digit_height) for _ in strokes[:-1]] + [0]
    jitter = [int(rng.uniform(-0.06, 0.06) * digit_height) for _ in strokes]
    pad = int(0.1 * digit_height) + 8
    top = max(j for j in jitter)
    height = max(s.height - j for s, j in zip(strokes, jitter, strict=True)) + top + 2 * pad
    width = sum(s.width for s in strokes) + sum(gaps) + 2 * pad
    row = np.zeros((height, width), dtype=bool)
    boxes = []
    x = pad
    for s, gap, j in zip(strokes, gaps, jitter, strict=True):
        # Digits share a baseline (their bottoms), up to a little jitter.
        y = height - pad - s.height - top + j
        y = int(np.clip(y, 0, height - s.height))
        row[y : y + s.height, x : x + s.width] |= s.lines
        boxes.append((x, y, x + s.width, y + s.height))
        x += s.width + gap
    return row, boxes


# --- the photograph -------------------------------------------------------------------------


def _photograph(
    style: PhotoStyle,
    rng: np.random.Generator,
    row: np.ndarray | None,
    boxes: list[tuple[int, int, int, int]],
    radius: float,
) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    width, height = style.width, style.height
    ink_alpha = np.zeros((height, width), dtype=np.float32)
    frame_boxes: list[tuple[int, int, int, int]] = []
    edge_band = _edge_band(style, rng)
    if row is not None:
        pad = int(np.ceil(radius)) + 3
        pen = _pen(np.pad(row, pad), radius, rng, style)
        # Boxes hold the ink: the centre lines' boxes grown by the pen's radius.
        grow = int(np.ceil(radius))
        boxes = [
            (x0 + pad - grow, y0 + pad - grow, x1 + pad + grow, y1 + pad + grow)
            for x0, y0, x1, y1 in boxes
        ]
        rotated, turn = _rotate(pen, style.rotation)
        rh, rw = rotated.shape
        scale = min(1.0, 0.92 * width / rw, 0.92 * height / rh)
        if scale < 1.0:  # the row does not fit: write smaller
            rotated = _resize(rotated, scale)
            rh, rw = rotated.shape
        left, top, right, bottom = _safe_area(style, edge_band)
        x = (
            int(rng.integers(left, max(left + 1, right - rw + 1)))
            if right - rw >= left
            else (width - rw) // 2
        )
        y = (
            int(rng.integers(top, max(top + 1, bottom - rh + 1)))
            if bottom - rh >= top
            else (height - rh) // 2
        )
        x, y = int(np.clip(x, 0, width - rw)), int(np.clip(y, 0, height - rh))
        ink_alpha[y : y + rh, x : x + rw] = rotated
        for box in boxes:
            frame_boxes.append(_turn_box(box, turn, scale, (x, y), (width, height)))

    rgb = _paper(style, rng, edge_band)
    if style.ruling != "none":
        line_alpha = _ruling(style, rng)
        if edge_band is not None:
            line_alpha *= 1.0 - edge_band
        color = np.array(_ruling_colour(rng), dtype=np.float32)
        rgb = rgb * (1 - line_alpha[..., None]) + color * line_alpha[..., None]
    if row is not None:
        ink_color = np.array(_ink_colour(style.ink, rng), dtype=np.float32)
        rgb = rgb * (1 - ink_alpha[..., None]) + ink_color * ink_alpha[..., None]
    rgb *= _lighting(style, rng)[..., None]
    if style.blur > 0.3:
        rgb = ndi.gaussian_filter(rgb, (style.blur, style.blur, 0), truncate=2.5)
    rgb += rng.normal(0.0, style.noise, size=rgb.shape).astype(np.float32)
    image = Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), "RGB")
    return _encode(image, style), frame_boxes


def _pen(row: np.ndarray, radius: float, rng: np.random.Generator, style: PhotoStyle) -> np.ndarray:
    """Ink coverage of a pen of about `radius` px drawn along the centre lines (which need a
    margin of at least `radius` px)."""
    lines = row
    distance, (iy, ix) = ndi.distance_transform_edt(~lines, return_indices=True)
    # Pressure varies along the stroke: the radius at the nearest centre-line pixel.
    pressure = ndi.gaussian_filter(rng.standard_normal(lines.shape).astype(np.float32), 6.0)
    pressure /= float(np.abs(pressure).max()) + 1e-6
    radii = radius * (1.0 + rng.uniform(0.0, 0.3) * pressure)
    alpha = np.clip(radii[iy, ix] + 0.5 - distance, 0.0, 1.0).astype(np.float32)
    if style.ink in ("pencil", "chalk"):
        grain = rng.uniform(0.45, 1.0, size=alpha.shape).astype(np.float32)
        alpha *= ndi.uniform_filter(grain, 2)
    if style.ink == "pencil":
        alpha *= rng.uniform(0.55, 0.85)
    return alpha


def _rotate(alpha: np.ndarray, degrees: float) -> tuple[np.ndarray, dict[str, float]]:
    image = Image.fromarray(alpha)
    rotated = image.rotate(degrees, resample=Image.Resampling.BILINEAR, expand=True)
    turn = {
        "degrees": degrees,
        "cx": alpha.shape[1] / 2.0,
        "cy": alpha.shape[0] / 2.0,
        "ncx": rotated.width / 2.0,
        "ncy": rotated.height / 2.0,
    }
    return np.asarray(rotated, dtype=np.float32), turn


def _turn_box(
    box: tuple[int, int, int, int],
    turn: dict[str, float],
    scale: float,
    offset: tuple[int, int],
    frame: tuple[int, int],
) -> tuple[int, int, int, int]:
    """Where a box of the unrotated row ends up in the frame (bounding box of its corners)."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=np.float64)
    angle = np.radians(turn["degrees"])
    # PIL rotates counter-clockwise on screen, i.e. with y pointing down.
    dx, dy = corners[:, 0] - turn["cx"], corners[:, 1] - turn["cy"]
    rx = np.cos(angle) * dx + np.sin(angle) * dy + turn["ncx"]
    ry = -np.sin(angle) * dx + np.cos(angle) * dy + turn["ncy"]
    rx, ry = rx * scale + offset[0], ry * scale + offset[1]
    return (
        int(max(0, np.floor(rx.min()))),
        int(max(0, np.floor(ry.min()))),
        int(min(frame[0], np.ceil(rx.max()))),
        int(min(frame[1], np.ceil(ry.max()))),
    )


def _resize(alpha: np.ndarray, scale: float) -> np.ndarray:
    size = (max(1, round(alpha.shape[1] * scale)), max(1, round(alpha.shape[0] * scale)))
    return np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.BILINEAR))


def _edge_band(style: PhotoStyle, rng: np.random.Generator) -> np.ndarray | None:
    """Where the table shows beyond the sheet's edge (1 = table), or None."""
    if not style.page_edge:
        return None
    width, height = style.width, style.height
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    tilt = np.tan(np.radians(rng.uniform(-5, 5)))
    if style.page_edge in ("left", "right"):
        depth = rng.uniform(0.05, 0.16) * width
        edge = depth + (yy - height / 2) * tilt
        band = xx < edge if style.page_edge == "left" else xx > width - edge
    else:
        depth = rng.uniform(0.05, 0.16) * height
        edge = depth + (xx - width / 2) * tilt
        band = yy < edge if style.page_edge == "top" else yy > height - edge
    return ndi.uniform_filter(band.astype(np.float32), 3)


def _safe_area(style: PhotoStyle, edge_band: np.ndarray | None) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) where the writing may go: inside the sheet, off the border."""
    margin = int(0.03 * min(style.width, style.height))
    left, top = margin, margin
    right, bottom = style.width - margin, style.height - margin
    if edge_band is not None:
        band_cols = np.flatnonzero(edge_band.max(axis=0) > 0.5)
        band_rows = np.flatnonzero(edge_band.max(axis=1) > 0.5)
        extra = margin
        if style.page_edge == "left":
            left = int(band_cols.max()) + extra
        elif style.page_edge == "right":
            right = int(band_cols.min()) - extra
        elif style.page_edge == "top":
            top = int(band_rows.max()) + extra
        else:
            bottom = int(band_rows.min()) - extra
    return left, top, right, bottom


def _paper(style: PhotoStyle, rng: np.random.Generator, edge_band: np.ndarray | None) -> np.ndarray:
    height, width = style.height, style.width
    tint = np.array(style.paper_tint, dtype=np.float32)
    # Fibre texture: faint low-frequency blotches.
    coarse = rng.normal(0.0, 1.0, size=(height // 16 + 2, width // 16 + 2)).astype(np.float32)
    blotch = np.asarray(
        Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC), dtype=np.float32
    )
    level = style.paper_level * (1.0 + 0.015 * blotch)
    rgb = level[..., None] * tint
    if edge_band is not None:
        table = np.array(
            [rng.uniform(0.15, 0.5), rng.uniform(0.12, 0.4), rng.uniform(0.1, 0.35)],
            dtype=np.float32,
        )
        rgb = rgb * (1 - edge_band[..., None]) + table * edge_band[..., None]
    return rgb.astype(np.float32)


def _ruling(style: PhotoStyle, rng: np.random.Generator) -> np.ndarray:
    """Alpha of notebook lines (or squares), drawn tilted with the page."""
    width, height = style.width, style.height
    side = int(np.hypot(width, height)) + 4
    image = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(image)
    spacing = max(8, style.ruling_spacing)
    thickness = int(rng.integers(1, 3))
    phase = int(rng.integers(0, spacing))
    for y in range(phase, side, spacing):
        draw.line([(0, y), (side, y)], fill=255, width=thickness)
    if style.ruling == "grid":
        for x in range(phase, side, spacing):
            draw.line([(x, 0), (x, side)], fill=255, width=thickness)
    elif rng.random() < 0.3:  # the margin line of a notebook page
        x = int(side / 2 - width / 2 + rng.uniform(0.05, 0.2) * width)
        draw.line([(x, 0), (x, side)], fill=200, width=thickness + 1)
    rotated = image.rotate(style.rotation, resample=Image.Resampling.BILINEAR)
    left, top = (side - width) // 2, (side - height) // 2
    crop = rotated.crop((left, top, left + width, top + height))
    return np.asarray(crop, dtype=np.float32) * (float(rng.uniform(0.35, 0.8)) / 255.0)


def _ruling_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    if rng.random() < 0.7:  # light blue
        return (rng.uniform(0.45, 0.65), rng.uniform(0.6, 0.75), rng.uniform(0.8, 0.95))
    grey = rng.uniform(0.4, 0.65)
    return (grey, grey, grey)


def _ink_colour(ink: str, rng: np.random.Generator) -> tuple[float, float, float]:
    if ink == "black":
        level = rng.uniform(0.03, 0.2)
        return (level, level, level * 1.1)
    if ink == "blue":
        return (rng.uniform(0.05, 0.25), rng.uniform(0.1, 0.3), rng.uniform(0.4, 0.75))
    if ink == "pencil":
        level = rng.uniform(0.2, 0.4)
        return (level, level, level)
    level = rng.uniform(0.78, 0.95)  # chalk
    return (level, level, level * 0.97)


def _lighting(style: PhotoStyle, rng: np.random.Generator) -> np.ndarray:
    """Brightness factor per pixel: a gradient, a vignette, maybe a soft shadow."""
    height, width = style.height, style.width
    step = 8
    gh, gw = height // step + 2, width // step + 2
    yy, xx = np.mgrid[0:gh, 0:gw].astype(np.float32)
    yy, xx = yy / gh, xx / gw
    angle = rng.uniform(0, 2 * np.pi)
    along = (np.cos(angle) * (xx - 0.5) + np.sin(angle) * (yy - 0.5)) + 0.5
    light = 1.0 - style.light_gradient * np.clip(along, 0, 1)
    light *= 1.0 - rng.uniform(0.0, 0.25) * ((xx - 0.5) ** 2 + (yy - 0.5) ** 2) * 2
    if style.shadow > 0:
        # A hand or phone shadow: a soft-edged half-plane or blob.
        if rng.random() < 0.5:
            a = rng.uniform(0, 2 * np.pi)
            side = np.cos(a) * (xx - 0.5) + np.sin(a) * (yy - 0.5) - rng.uniform(-0.3, 0.3)
            inside = side > 0
        else:
            cy, cx = rng.uniform(0, 1, size=2)
            ry, rx = rng.uniform(0.2, 0.6, size=2)
            inside = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
        softness = rng.uniform(0.5, 5.0)
        shade = ndi.gaussian_filter(inside.astype(np.float32), softness)
        light *= 1.0 - style.shadow * shade
    big = Image.fromarray(light.astype(np.float32)).resize(
        (gw * step, gh * step), Image.Resampling.BILINEAR
    )
    return np.asarray(big, dtype=np.float32)[:height, :width]


def _encode(image: Image.Image, style: PhotoStyle) -> bytes:
    buffer = io.BytesIO()
    orientation = style.exif_orientation
    if orientation in _STORE_TRANSPOSE:
        exif = Image.Exif()
        exif[_EXIF_ORIENTATION_TAG] = orientation
        stored = image.transpose(_STORE_TRANSPOSE[orientation])
        stored.save(buffer, "JPEG", quality=style.jpeg_quality, exif=exif.tobytes())
    else:
        image.save(buffer, "JPEG", quality=style.jpeg_quality)
    return buffer.getvalue()


# --- centre lines ---------------------------------------------------------------------------


def _thin(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide centre lines of `mask` (Zhang-Suen thinning, table driven)."""
    skeleton = np.pad(mask, 1).astype(np.uint8)
    while True:
        removed = 0
        for table in (_DELETE_FIRST, _DELETE_SECOND):
            codes = _neighbour_codes(skeleton)
            delete = table[codes] & (skeleton[1:-1, 1:-1] == 1)
            count = int(np.count_nonzero(delete))
            if count:
                skeleton[1:-1, 1:-1][delete] = 0
                removed += count
        if removed == 0:
            return skeleton[1:-1, 1:-1].astype(bool)


def _neighbour_codes(padded: np.ndarray) -> np.ndarray:
    """8-bit code of each inner pixel's neighbours, bit k for P(k+2): N, NE, E, SE, S, SW, W, NW."""
    h, w = padded.shape[0] - 2, padded.shape[1] - 2
    code = np.zeros((h, w), dtype=np.uint8)
    for bit, (dy, dx) in enumerate(_NEIGHBOURS):
        code |= padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] << bit
    return code


_NEIGHBOURS = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _deletion_tables() -> tuple[np.ndarray, np.ndarray]:
    first = np.zeros(256, dtype=bool)
    second = np.zeros(256, dtype=bool)
    for code in range(256):
        p = [(code >> k) & 1 for k in range(8)]  # p[0] = P2 (north) ... p[7] = P9 (north-west)
        neighbours = sum(p)
        transitions = sum(1 for k in range(8) if p[k] == 0 and p[(k + 1) % 8] == 1)
        if not (2 <= neighbours <= 6 and transitions == 1):
            continue
        north, east, south, west = p[0], p[2], p[4], p[6]
        first[code] = north * east * south == 0 and east * south * west == 0
        second[code] = north * east * west == 0 and north * south * west == 0
    return first, second


_DELETE_FIRST, _DELETE_SECOND = _deletion_tables()


# --- negatives ------------------------------------------------------------------------------


def _render_negative(
    rng: np.random.Generator, kind: str | None, max_side: int | None = None
) -> tuple[bytes, dict[str, Any]]:
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
        row, boxes = _row_of([_polyline_strokes(points)], height, rng)
    elif kind == "dot":
        count = int(rng.integers(1, 3))
        strokes = []
        for _ in range(count):
            size = max(2.0, rng.uniform(0.04, 0.12) * height)
            t = np.linspace(0, 2 * np.pi, 12)
            strokes.append(_polyline_strokes(np.stack([np.cos(t), np.sin(t)], axis=1) * size / 2))
        radius = max(radius, 1.5)
        row, boxes = _row_of(strokes, height, rng)
    elif kind == "letters":
        count = int(rng.integers(1, 4))
        text = "".join(rng.choice(list(LETTERS), size=count))
        row, boxes = _row_of([_letter_lines(c, height) for c in text], height, rng)
    elif kind == "scribble":
        row, boxes = _row_of([_scribble_lines(height, rng)], height, rng)
    elif kind in TRAINING_ONLY_NEGATIVE_KINDS:
        from training.negative_symbols import hatching_polylines, symbol_polylines

        lines = symbol_polylines(rng) if kind == "symbol" else hatching_polylines(rng)
        size = height * rng.uniform(0.7, 1.5)
        row, boxes = _row_of([_polylines_strokes([line * size for line in lines])], height, rng)
    data, _ = _photograph(style, rng, row, boxes, radius)
    return data, {"style": asdict(style), "boxes": [], "kind": kind}


def _letter_lines(letter: str, height: float) -> _Strokes:
    """A printed letter, traced to centre lines, so it is drawn with the same pens as digits."""
    font = ImageFont.load_default(size=64)
    canvas = Image.new("L", (96, 96), 0)
    ImageDraw.Draw(canvas).text((16, 8), letter, fill=255, font=font)
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    rows = np.flatnonzero(ink.max(axis=1) > 0.2)
    cols = np.flatnonzero(ink.max(axis=0) > 0.2)
    ink = np.pad(ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1], 2)
    # Scaled by the font's cap height (about 46 px at size 64): lowercase comes out shorter.
    return _trace(ink, scale=height / 46.0)


def _scribble_lines(height: float, rng: np.random.Generator) -> _Strokes:
    """A tangle of loops about a digit high: a few circles drifting along, plus wobble."""
    turns = rng.uniform(2.5, 6.0)
    t = np.linspace(0.0, 2 * np.pi * turns, int(60 * turns))
    drift = rng.uniform(0.3, 1.2)
    x = np.cos(t + rng.uniform(0, np.pi)) + drift * t / t[-1] * 2 + 0.3 * np.sin(3.1 * t)
    y = np.sin(t) * rng.uniform(0.6, 1.0) + 0.25 * np.cos(2.3 * t + rng.uniform(0, np.pi))
    points = np.stack([x, y], axis=1) + rng.normal(0, 0.05, size=(t.size, 2)).cumsum(axis=0) * 0.2
    span = points.max(axis=0) - points.min(axis=0)
    size = np.array([height * rng.uniform(0.9, 1.8), height])
    return _polyline_strokes((points - points.min(axis=0)) / np.maximum(span, 1e-6) * size)
