"""The clean-picture check's statistics: from the levels' histogram for a decoded photo, the
very numbers numpy gives on the values; value by value for any other picture."""

from __future__ import annotations

import numpy as np
import pytest

from reading.preprocess_clean import LEVEL_VALUES, _GrayValues
from reading.preprocess_ink import InkMaps
from reading.stage_pictures import StagePictures


def decoded_like(rng: np.random.Generator, shape: tuple[int, int], levels: int) -> np.ndarray:
    """Values as the decoder makes them: 8-bit levels scaled to [0, 1]."""
    chosen = rng.choice(256, size=levels, replace=False)
    return LEVEL_VALUES[rng.choice(chosen, size=shape)]


@pytest.mark.parametrize("seed", range(40))
def test_histogram_statistics_equal_numpys(seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 60)), int(rng.integers(1, 90)))
    gray = decoded_like(rng, shape, int(rng.integers(1, 256)))
    values = _GrayValues(gray)
    assert values.counts is not None
    assert np.array_equal(values.levels, np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8))
    threshold = float(rng.random())

    def above(v: np.ndarray) -> np.ndarray:
        return v > threshold

    mask = above(gray)
    assert values.share(above) == float(mask.mean())
    assert values.level_span() == int(values.levels.max()) - int(values.levels.min())
    if mask.any():
        assert values.median(above) == float(np.median(gray[mask]))
        centre = float(rng.random())
        expected = float(np.median(np.abs(gray[mask][::7] - centre)))
        assert values.deviation_median(mask, centre, step=7) == expected


def test_other_pictures_are_measured_value_by_value() -> None:
    gray = np.random.default_rng(5).random((30, 40)).astype(np.float32)
    values = _GrayValues(gray)
    assert values.counts is None
    assert np.array_equal(values.levels, np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8))
    mask = gray > 0.3
    assert values.median(lambda v: v > 0.3) == float(np.median(gray[mask]))
    assert values.deviation_median(mask, 0.5, step=7) == float(
        np.median(np.abs(gray[mask][::7] - 0.5))
    )


def test_stage_pictures_are_made_when_first_looked_at() -> None:
    work = np.full((20, 30), 0.8, dtype=np.float32)
    binary = np.zeros((20, 30), dtype=bool)
    binary[5:15, 10:12] = True
    contrast = binary * np.float32(0.5)
    nothing = np.zeros_like(binary)
    ink = InkMaps(True, contrast, binary, nothing, nothing, 0.01, contrast, 0.1)
    pictures = StagePictures(work, ink, (60, 40))
    assert pictures._pictures is None and list(pictures) == ["gray", "flattened", "binary"]
    assert pictures["binary"].shape == (40, 60) and pictures["binary"].dtype == np.uint8
    assert pictures["binary"][10:30, 20:24].min() == 255
    assert pictures.get("gray") is not None and int(pictures["gray"][0, 0]) == 204
    assert int(pictures["flattened"][0, 0]) == 255 and int(pictures["flattened"][20, 21]) == 127
