"""The sheet: paper with fibre texture, notebook ruling, and the table beyond its edge."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from training.photo_synth.style import PhotoStyle


def table_band(style: PhotoStyle, rng: np.random.Generator) -> np.ndarray | None:
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


def safe_area(style: PhotoStyle, edge_band: np.ndarray | None) -> tuple[int, int, int, int]:
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


def paper_rgb(
    style: PhotoStyle, rng: np.random.Generator, edge_band: np.ndarray | None
) -> np.ndarray:
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


def ruling_alpha(style: PhotoStyle, rng: np.random.Generator) -> np.ndarray:
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


def ruling_colour(rng: np.random.Generator) -> tuple[float, float, float]:
    if rng.random() < 0.7:  # light blue
        return (rng.uniform(0.45, 0.65), rng.uniform(0.6, 0.75), rng.uniform(0.8, 0.95))
    grey = rng.uniform(0.4, 0.65)
    return (grey, grey, grey)
