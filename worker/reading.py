"""Read photos: decode + preprocess + model. The one path every caller shares
(workers, `digitbot predict`, the web page, the photo benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from worker.preprocess import Preprocessed, preprocess
from worker.recognize import Classifier, Recognition, recognize


@dataclass(frozen=True)
class Reading:
    recognition: Recognition
    preprocessed: Preprocessed


def read_photo(data: bytes, model: Classifier) -> Reading:
    """Recognise the digits in an image file's bytes. Raises BadImageError for unreadable input."""
    pre = preprocess(data)
    result = recognize(pre.crops, pre.boxes, model, reason=pre.reason)
    return Reading(result, pre)


def read_together(photos: Sequence[Preprocessed], model: Classifier) -> list[Reading]:
    """Recognise several preprocessed photos with one model call on all their crops."""
    counts = [len(pre.crops) for pre in photos]
    crops = [pre.crops for pre in photos if len(pre.crops)]
    rows = model.probabilities(np.concatenate(crops)) if crops else np.zeros((0, 0))
    readings = []
    start = 0
    for pre, count in zip(photos, counts, strict=True):
        answered = _Answered(model.version, rows[start : start + count])
        readings.append(Reading(recognize(pre.crops, pre.boxes, answered, reason=pre.reason), pre))
        start += count
    return readings


@dataclass
class _Answered:
    """A classifier whose answer for one photo's crops was computed already, in a batch."""

    version: str
    rows: np.ndarray

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        return self.rows
