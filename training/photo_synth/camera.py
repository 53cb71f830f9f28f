"""The photograph: a row of centre lines written with a pen on paper, turned with the page,
lit unevenly, blurred, noisy and saved as a phone's JPEG (sometimes EXIF-rotated)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from PIL import Image
from scipy import ndimage as ndi

from training.photo_synth.paper import paper_rgb, ruling_alpha, ruling_colour, safe_area, table_band
from training.photo_synth.strokes import digit_centre_lines, ink_colour, pen_coverage, row_of
from training.photo_synth.style import PhotoStyle, random_style

_EXIF_ORIENTATION_TAG = 0x0112
# The stored pixels are the upright picture turned the opposite way of the tag's display turn.
_STORE_TRANSPOSE = {
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


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
        lines.append(digit_centre_lines(np.asarray(digit), height))
    row, boxes = row_of(lines, style.digit_height, rng)
    data, frame_boxes = photograph(style, rng, row, boxes, radius)
    return data, {"style": asdict(style), "boxes": frame_boxes, "kind": "digits"}


def photograph(
    style: PhotoStyle,
    rng: np.random.Generator,
    row: np.ndarray | None,
    boxes: list[tuple[int, int, int, int]],
    radius: float,
) -> tuple[bytes, list[tuple[int, int, int, int]]]:
    """Write `row` (centre lines; None: nothing) with a pen of `radius` px on paper and take
    the photo: JPEG bytes, and where each of `boxes` (in `row`) ends up in the frame."""
    width, height = style.width, style.height
    ink_alpha = np.zeros((height, width), dtype=np.float32)
    frame_boxes: list[tuple[int, int, int, int]] = []
    edge_band = table_band(style, rng)
    if row is not None:
        pad = int(np.ceil(radius)) + 3
        pen = pen_coverage(np.pad(row, pad), radius, rng, style)
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
        left, top, right, bottom = safe_area(style, edge_band)
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

    rgb = paper_rgb(style, rng, edge_band)
    if style.ruling != "none":
        line_alpha = ruling_alpha(style, rng)
        if edge_band is not None:
            line_alpha *= 1.0 - edge_band
        color = np.array(ruling_colour(rng), dtype=np.float32)
        rgb = rgb * (1 - line_alpha[..., None]) + color * line_alpha[..., None]
    if row is not None:
        ink_color = np.array(ink_colour(style.ink, rng), dtype=np.float32)
        rgb = rgb * (1 - ink_alpha[..., None]) + ink_color * ink_alpha[..., None]
    rgb *= _lighting(style, rng)[..., None]
    if style.blur > 0.3:
        rgb = ndi.gaussian_filter(rgb, (style.blur, style.blur, 0), truncate=2.5)
    rgb += rng.normal(0.0, style.noise, size=rgb.shape).astype(np.float32)
    image = Image.fromarray(np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8), "RGB")
    return _encode(image, style), frame_boxes


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
