"""The photo benchmark's sets: fixed seeds, MNIST *test* digits and optdigits only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from training.photo_synth.camera import render_photo
from training.photo_synth.negatives import negative_photo

SET_NAMES = ("mnist-single", "optdigits-single", "numbers", "negatives")
# Fixed seeds, one per set, so that every run of the benchmark sees the same photos.
DEFAULT_SEEDS = {
    "mnist-single": 20_240_101,
    "optdigits-single": 20_240_202,
    "numbers": 20_240_303,
    "negatives": 20_240_404,
}


@dataclass(frozen=True)
class PhotoSample:
    """One benchmark photo: JPEG bytes and the digits it shows ("" for none)."""

    data: bytes
    label: str
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


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
            data, meta = negative_photo(rng, None)
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
