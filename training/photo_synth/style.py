"""How one photo looks, apart from its digits: size, pen, paper, ruling, light, camera."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

INKS = ("black", "blue", "pencil", "chalk")
INK_WEIGHTS = (0.35, 0.3, 0.15, 0.2)
RULINGS = ("none", "lined", "grid")
RULING_WEIGHTS = (0.45, 0.35, 0.2)
EXIF_ORIENTATIONS = (3, 6, 8)
EXIF_TAGGED_SHARE = 0.25


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
