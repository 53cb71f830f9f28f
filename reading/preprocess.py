"""Where a photo becomes 28x28 digit crops: the one preprocessing every caller shares.

    bytes --decode--> gray (oriented, downscaled)
          --find_ink--> polarity, flattened lighting, binary ink without ruled lines
          --segment_digits--> components grouped into digits, left to right
          --to_mnist--> (n, 28, 28) MNIST-style crops

Pure functions: no I/O, no state. The stages live in `preprocess_ink` (polarity, lighting,
binarisation), `preprocess_lines` (ruled lines), `preprocess_segment` and `preprocess_group`
(components to digits) and `preprocess_mnist` (the MNIST recipe). Training, the workers,
`digitbot predict` and the web page all call `preprocess` (bytes) or `preprocess_array` (a
grayscale array, e.g. from the canvas).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from digitbot import defaults
from reading.decode import decode_image
from reading.masks import dilate_cross
from reading.preprocess_clean import find_ink_clean
from reading.preprocess_group import Group, group_mask
from reading.preprocess_ink import InkMaps, find_ink
from reading.preprocess_mnist import MNIST_SIZE, to_mnist
from reading.preprocess_segment import REASON_TOO_SMALL, segment_digits
from reading.stage_pictures import StagePictures
from reading.touching import CutOption, cut_candidates

__all__ = ["Preprocessed", "preprocess", "preprocess_array", "to_mnist", "SEGMENT_MAX_SIDE"]

# Segmentation runs with the longest side at most this many pixels: enough for a digit that
# is a twentieth of the frame, small enough to stay within a few milliseconds.
SEGMENT_MAX_SIDE = 640
# Smaller inputs (a canvas, a thumbnail) are enlarged to about this size first, so that
# the filters sized for photos still apply.
SEGMENT_MIN_SIDE = 256
# Digits shorter than this (at segmentation resolution) are traced again from an enlarged
# darkness map before the MNIST recipe.
SMALL_DIGIT_HEIGHT = 64
# Below this many pixels on the longest side there is nothing to read.
MIN_IMAGE_SIDE = 12
DEFAULT_MAX_DIGITS = defaults.MAX_DIGITS


@dataclass(frozen=True)
class Preprocessed:
    """The digits found in one image, and how they were found.

    `crops` are MNIST-style (ink 1.0 on 0.0), one per digit, left to right; `boxes` are
    (x0, y0, x1, y1) in the coordinates of the image of size `image_size` (width, height):
    the decoded, oriented and downscaled photo, or the array given to `preprocess_array`.
    `stages` are uint8 pictures of `image_size` for the "how I read it" picture: "gray" (the
    picture), "flattened" (lighting evened out, ink dark) and "binary" (the ink found, ruled
    lines removed), made when first looked at (`reading.stage_pictures`). `reason` is "" when
    digits were found. `cut_options` are other readings of wide marks as two touching digits,
    for the model to judge (`reading.touching`).
    """

    crops: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    image_size: tuple[int, int]
    stages: Mapping[str, np.ndarray] = field(default_factory=dict)
    reason: str = ""
    cut_options: list[CutOption] = field(default_factory=list)


def preprocess(data: bytes, *, max_digits: int = DEFAULT_MAX_DIGITS) -> Preprocessed:
    """Image bytes -> digit crops. Raises BadImageError subclasses for unreadable input."""
    gray = decode_image(data, max_side=SEGMENT_MAX_SIDE)
    return preprocess_array(gray, max_digits=max_digits)


def preprocess_array(gray: np.ndarray, *, max_digits: int = DEFAULT_MAX_DIGITS) -> Preprocessed:
    """Grayscale float (H, W) in [0, 1], either polarity -> digit crops."""
    gray = np.ascontiguousarray(gray, dtype=np.float32)
    if gray.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale array, got shape {gray.shape}")
    height, width = gray.shape
    image_size = (int(width), int(height))
    if max(height, width) < MIN_IMAGE_SIDE or min(height, width) < 2:
        return _nothing(image_size, {}, REASON_TOO_SMALL)
    if not cv2.checkRange(gray)[0]:  # a NaN or an infinity
        gray = np.nan_to_num(gray, nan=1.0, posinf=1.0, neginf=0.0)
    low, high, _, _ = cv2.minMaxLoc(gray)
    if low < 0.0 or high > 1.0:  # a decoded photo is in range already: no copy
        gray = np.clip(gray, 0.0, 1.0)
    work, scale = _to_working_size(gray)

    clean_ink = find_ink_clean(work)
    ink = clean_ink or find_ink(work)
    stages = StagePictures(work, ink, image_size)
    segmentation = segment_digits(
        ink.binary,
        max_digits=max_digits,
        steps=ink.steps,
        contrast=ink.contrast,
        labels=ink.labels,
        photo=clean_ink is None,
    )
    if not segmentation.groups:
        return _nothing(image_size, stages, segmentation.reason)

    labels = segmentation.labels
    crops = np.stack([to_mnist(_digit_mask(ink, labels, g)) for g in segmentation.groups])
    boxes = [_box_in_input(g.x0, g.y0, g.x1, g.y1, scale, image_size) for g in segmentation.groups]
    options = [
        CutOption(
            index,
            np.stack([to_mnist(_digit_mask(ink, labels, side)) for side in sides]),
            [_box_in_input(s.x0, s.y0, s.x1, s.y1, scale, image_size) for s in sides],
        )
        for index, group in enumerate(segmentation.groups)
        for sides in cut_candidates(group, labels)
    ]
    return Preprocessed(crops, boxes, image_size, stages, "", options)


def _digit_mask(ink: InkMaps, labels: np.ndarray, group: Group) -> np.ndarray:
    """The digit's ink for `to_mnist`; for a small digit, traced again at a finer scale.

    At segmentation resolution a small digit's mask is blocky; the darkness map still holds
    where within each pixel the stroke runs, and enlarging it smoothly before thresholding
    recovers that.
    """
    own = group_mask(labels, group)
    if group.height >= SMALL_DIGIT_HEIGHT:
        return own
    factor = int(np.ceil(SMALL_DIGIT_HEIGHT / max(1, group.height)))
    window = ink.darkness[group.y0 : group.y1, group.x0 : group.x1]
    size = (window.shape[1] * factor, window.shape[0] * factor)
    fine = np.asarray(
        Image.fromarray(np.ascontiguousarray(window)).resize(size, Image.Resampling.BICUBIC)
    )
    # Only near the digit's own pixels: a neighbour reaching into the box stays out.
    near = np.repeat(np.repeat(dilate_cross(own), factor, axis=0), factor, axis=1)
    mask = (fine > ink.ink_level) & near
    return mask if mask.any() else own


def _to_working_size(gray: np.ndarray) -> tuple[np.ndarray, float]:
    """Resize to segmentation size; also the factor from input to working coordinates."""
    height, width = gray.shape
    longest = max(height, width)
    if longest > SEGMENT_MAX_SIDE:
        scale = SEGMENT_MAX_SIDE / longest
    elif longest < SEGMENT_MIN_SIDE:
        scale = float(SEGMENT_MIN_SIDE // longest) if longest * 2 <= SEGMENT_MIN_SIDE else 1.0
    else:
        return gray, 1.0
    if scale == 1.0:
        return gray, 1.0
    size = (max(2, round(width * scale)), max(2, round(height * scale)))
    resample = Image.Resampling.BILINEAR
    image = Image.fromarray(np.ascontiguousarray(gray))
    work = np.asarray(image.resize(size, resample, reducing_gap=2.0 if scale < 1 else None))
    return np.ascontiguousarray(work, dtype=np.float32), size[0] / width


def _box_in_input(
    x0: int, y0: int, x1: int, y1: int, scale: float, image_size: tuple[int, int]
) -> tuple[int, int, int, int]:
    width, height = image_size
    return (
        max(0, int(np.floor(x0 / scale))),
        max(0, int(np.floor(y0 / scale))),
        min(width, int(np.ceil(x1 / scale))),
        min(height, int(np.ceil(y1 / scale))),
    )


def _nothing(
    image_size: tuple[int, int], stages: Mapping[str, np.ndarray], reason: str
) -> Preprocessed:
    crops = np.zeros((0, MNIST_SIZE, MNIST_SIZE), dtype=np.float32)
    return Preprocessed(crops, [], image_size, stages, reason)
