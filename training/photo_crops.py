"""Training crops read from phone-like photos: what the model sees in production, learned.

MNIST's 28x28 digits are clean scans. The workers feed the model crops cut out of photos by
`reading.preprocess`, which look different: pen strokes of even width, lighting and JPEG residue,
slightly different centring. Here MNIST *training* digits are rendered into photos by
`training.photo_synth` (the same kind of rendering as the photo benchmark, with other seeds),
read back by the workers' own `preprocess`, and the crops kept with their labels. Photos with
no digit (blank or ruled paper, dashes, dots, letters, scribbles) give the crops for the
"not a digit" class (label 10).

Some digits are first brought down to 8x8 and back (`low_resolution`), the way a small or
blurred digit loses detail; the model then also knows digits with little detail. Another part
shows MNIST training 1s and 7s written the continental way (`training.handwriting_styles`:
a 1 with a flag and a foot, a crossed 7), half of them at low resolution. Two last parts come
from a second world with other physics (`training.placed_digits`): the grey-level digit placed
as it is, enlarged, blurred, tilted, framed tightly or left tiny, in either polarity, and
non-digits and empty pictures made the same way.

The benchmark's seeds (`photo_synth.DEFAULT_SEEDS`) and digits (MNIST test, optdigits) are
never used here. Rendering costs about 0.1 s per photo, so the crops are cached under
`$DIGITBOT_HOME/datasets/` keyed by everything that decides them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from PIL import Image

from digitbot.defaults import NOT_A_DIGIT
from reading.preprocess_mnist import to_uint8
from training.datasets import mnist_style
from training.handwriting_styles import STYLED_LABELS, restyle
from training.photo_synth import DEFAULT_SEEDS, random_style, render_negative, render_photo
from training.placed_digits import place_digit, place_negative
from training.progress_bar import ProgressBar

log = logging.getLogger(__name__)

# Bump when the rendering, the restyling (handwriting_styles) or the preprocessing changes what
# crops come out: the cache key.
RECIPE_VERSION = 3
CACHE_DIR = Path("datasets")
# Photos are rendered at about the size preprocessing works at (it scales larger ones down to
# 640 px), which keeps rendering cheap.
RENDER_MAX_SIDE = 640
LOW_RESOLUTION_SIDE = 8
LOW_RESOLUTION_LEVELS = 16
# Work is cut in chunks with their own seeds, so the result does not depend on process count.
CHUNK_SIZE = 250
# A negative photo can give several crops (a word of letters); keep at most this many.
MAX_CROPS_PER_NEGATIVE = 3
# The kinds of non-digit photos that leave ink for the model to see, and how often each is
# drawn. Dots are left out: scaled up to a 20-px box a dot is a filled ring, a fair "0".
NEGATIVE_KINDS = ("letters", "scribble", "dash", "ruled", "blank", "symbol", "hatching")
NEGATIVE_WEIGHTS = (0.3, 0.2, 0.06, 0.06, 0.08, 0.24, 0.06)
# A crop whose ink is at most this wide (of 20 px tall) is a stroke any reader would call a
# "1": the upright of a "k", a vertical ruling. It is not taught as "not a digit".
STICK_MAX_WIDTH = 7


@dataclass(frozen=True)
class CropRecipe:
    """Everything that decides a set of photo crops.

    Four parts, each rendered and cached on its own: photos of digits (a share of them at
    low resolution), photos with no digit, extra photos of digits all at low resolution, and
    photos of 1s and 7s in continental handwriting (half at low resolution).
    """

    num_digit_photos: int
    num_negative_photos: int
    seed: int = 7_000_001
    low_resolution_share: float = 0.3
    num_low_resolution_photos: int = 0
    num_styled_photos: int = 0
    num_placed_photos: int = 0
    num_placed_negative_photos: int = 0

    def __post_init__(self) -> None:
        if self.seed in DEFAULT_SEEDS.values():
            raise ValueError("training crops must not use the photo benchmark's seeds")

    def parts(self) -> list[_Part]:
        return [
            part
            for part in (
                _Part(DIGITS, self.num_digit_photos, self.seed, self.low_resolution_share),
                _Part(NEGATIVES, self.num_negative_photos, self.seed, 0.0),
                _Part(LOW_RESOLUTION, self.num_low_resolution_photos, self.seed, 1.0),
                _Part(STYLED, self.num_styled_photos, self.seed, STYLED_LOW_RESOLUTION_SHARE),
                _Part(PLACED, self.num_placed_photos, self.seed, 0.0),
                _Part(PLACED_NEGATIVES, self.num_placed_negative_photos, self.seed, 0.0),
            )
            if part.count
        ]


DIGITS, NEGATIVES, LOW_RESOLUTION, STYLED = "digits", "negatives", "low-resolution", "styled"
PLACED, PLACED_NEGATIVES = "placed", "placed-negatives"
_KIND_STREAMS = {
    kind: stream
    for stream, kind in enumerate(
        (DIGITS, NEGATIVES, LOW_RESOLUTION, STYLED, PLACED, PLACED_NEGATIVES)
    )
}
# Optdigits' writers, whose 1s and 7s the styled part is for, come as 8x8 images.
STYLED_LOW_RESOLUTION_SHARE = 0.5


@dataclass(frozen=True)
class _Part:
    kind: str
    count: int
    seed: int
    low_resolution_share: float

    def key(self, mnist_sha256: str) -> str:
        text = json.dumps({**asdict(self), "v": RECIPE_VERSION, "mnist": mnist_sha256})
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PhotoCrops:
    images: np.ndarray  # uint8 (n, 28, 28), ink bright
    labels: np.ndarray  # uint8 (n,), 0..9 digits, 10 "not a digit"
    stats: dict[str, int]


def load_photo_crops(
    home: Path,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    recipe: CropRecipe,
    *,
    mnist_sha256: str,
    processes: int | None = None,
) -> PhotoCrops:
    """The crops for `recipe`, each part from the cache or rendered now (and cached)."""
    loaded = []
    for part in recipe.parts():
        path = home / CACHE_DIR / f"photo-crops-{part.kind}-{part.key(mnist_sha256)}.npz"
        if path.exists():
            with np.load(path) as cached:
                stats = json.loads(str(cached["stats"]))
                loaded.append(PhotoCrops(cached["images"], cached["labels"], stats))
            continue
        crops = _build([part], train_images, train_labels, processes)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez_compressed(
            partial, images=crops.images, labels=crops.labels, stats=json.dumps(crops.stats)
        )
        partial.replace(path)
        loaded.append(crops)
    return _joined(loaded)


def _build(
    parts: list[_Part],
    train_images: np.ndarray,
    train_labels: np.ndarray,
    processes: int | None,
) -> PhotoCrops:
    tasks = [
        _ChunkTask(part, start, min(CHUNK_SIZE, part.count - start))
        for part in parts
        for start in range(0, part.count, CHUNK_SIZE)
    ]
    if not tasks:
        return _joined([])
    processes = processes or max(1, min(len(tasks), os.cpu_count() or 1))
    log.info("rendering %s photos in %d processes",
             ", ".join(f"{p.count} {p.kind}" for p in parts), processes)  # fmt: skip
    total = sum(task.count for task in tasks)
    with ProgressBar("rendering training photos", total, unit="photo", log=log) as progress:
        if processes == 1:
            results = []
            for task in tasks:
                results.append(_run_chunk(task, train_images, train_labels))
                progress.update(task.count)
        else:
            with ProcessPoolExecutor(processes, mp_context=get_context("spawn")) as pool:
                futures = {pool.submit(_run_chunk, t, train_images, train_labels): t for t in tasks}
                for future in as_completed(futures):
                    progress.update(futures[future].count)
                results = [future.result() for future in futures]  # in the tasks' order
    return _joined(results)


def _joined(parts: list[PhotoCrops]) -> PhotoCrops:
    stats: dict[str, int] = {}
    for part in parts:
        for name, count in part.stats.items():
            stats[name] = stats.get(name, 0) + count
    images = [p.images for p in parts if len(p.images)]
    labels = [p.labels for p in parts if len(p.labels)]
    return PhotoCrops(
        np.concatenate(images) if images else np.zeros((0, 28, 28), np.uint8),
        np.concatenate(labels) if labels else np.zeros((0,), np.uint8),
        stats,
    )


def low_resolution(image: np.ndarray) -> np.ndarray:
    """A 28x28 uint8 digit brought down to 8x8 with 17 grey levels and back, MNIST-style."""
    ink = image.astype(np.float32) / 255.0
    rows = np.flatnonzero(ink.max(axis=1) > 0.1)
    cols = np.flatnonzero(ink.max(axis=0) > 0.1)
    if rows.size == 0:
        return image
    side = max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1
    # A square around the ink, like a digit written in a box of a form.
    top = max(0, (rows[0] + rows[-1]) // 2 - side // 2)
    left = max(0, (cols[0] + cols[-1]) // 2 - side // 2)
    square = np.zeros((side, side), np.float32)
    patch = ink[top : top + side, left : left + side]
    square[: patch.shape[0], : patch.shape[1]] = patch
    small = Image.fromarray(square).resize(
        (LOW_RESOLUTION_SIDE, LOW_RESOLUTION_SIDE), Image.Resampling.BOX
    )
    pixels = np.asarray(small)
    levels = np.rint(pixels / max(1e-6, float(np.max(pixels))) * LOW_RESOLUTION_LEVELS)
    return mnist_style(levels / LOW_RESOLUTION_LEVELS)


def is_stick(crop: np.ndarray) -> bool:
    """True for an MNIST-style crop (ink bright, floats in [0, 1]) that is one upright stroke."""
    columns = np.flatnonzero(np.asarray(crop).max(axis=0) > 0.3)
    return columns.size > 0 and columns[-1] - columns[0] + 1 <= STICK_MAX_WIDTH


@dataclass(frozen=True)
class _ChunkTask:
    part: _Part
    start: int
    count: int


def _run_chunk(task: _ChunkTask, train_images: np.ndarray, train_labels: np.ndarray) -> PhotoCrops:
    from reading.preprocess import preprocess

    part = task.part
    rng = np.random.default_rng([part.seed, _KIND_STREAMS[part.kind], task.start])
    images: list[np.ndarray] = []
    labels: list[int] = []
    name = part.kind.replace("-", "_")
    stats = {f"{name}_photos": task.count, f"{name}_kept": 0, f"{name}_crops": 0}
    pool = np.arange(len(train_labels))
    if part.kind == STYLED:
        pool = np.flatnonzero(np.isin(train_labels, STYLED_LABELS))
    for _ in range(task.count):
        if part.kind in (NEGATIVES, PLACED_NEGATIVES):
            if part.kind == NEGATIVES:
                kind = str(rng.choice(NEGATIVE_KINDS, p=NEGATIVE_WEIGHTS))
                data = render_negative(rng, kind=kind, max_side=RENDER_MAX_SIDE)
            else:
                data = place_negative(rng)
            crops = [c for c in preprocess(data).crops if not is_stick(c)]
            if len(crops) == 0:
                continue
            chosen, label = np.stack(crops[:MAX_CROPS_PER_NEGATIVE]), NOT_A_DIGIT
        else:
            index = int(pool[rng.integers(0, len(pool))])
            digit = train_images[index]
            if part.kind == STYLED:
                digit = restyle(digit, int(train_labels[index]), rng)
                if digit is None:
                    continue
            if rng.random() < part.low_resolution_share:
                digit = low_resolution(digit)
            if part.kind == PLACED:
                data = place_digit(digit, rng)
            else:
                style = random_style(rng, max_side=RENDER_MAX_SIDE)
                data, _ = render_photo([digit], rng, style=style)
            chosen = preprocess(data).crops
            if len(chosen) != 1:  # the photo was misread: no label to give its pieces
                continue
            label = int(train_labels[index])
        stats[f"{name}_kept"] += 1
        stats[f"{name}_crops"] += len(chosen)
        images.extend(to_uint8(np.asarray(chosen)))
        labels.extend([label] * len(chosen))
    return PhotoCrops(
        np.asarray(images, np.uint8).reshape(-1, 28, 28), np.asarray(labels, np.uint8), stats
    )
