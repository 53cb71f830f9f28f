"""Read a photo: decode + preprocess + model. The one path every caller shares
(workers, `digitbot predict`, the web page, the photo benchmark)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from reading.preprocess import Preprocessed, preprocess
from reading.recognize import Classifier, Recognition, recognize
from reading.touching import apply_cuts


@dataclass(frozen=True)
class Reading:
    recognition: Recognition
    preprocessed: Preprocessed


def read_photo(data: bytes, model: Classifier) -> Reading:
    """Recognise the digits in an image file's bytes. Raises BadImageError for unreadable input.

    One model call reads the photo's crops and the crops of its touching-digit cut options (see
    `reading.touching`); the cuts the model believes in are taken before the digits are read."""
    pre = preprocess(data)
    inputs = np.concatenate([pre.crops, *(option.crops for option in pre.cut_options)])
    rows = model.probabilities(inputs) if len(inputs) else np.zeros((0, 0))
    if pre.cut_options:
        crops, boxes, rows = apply_cuts(pre.crops, pre.boxes, pre.cut_options, rows)
        pre = replace(pre, crops=crops, boxes=boxes, cut_options=[])
    answered = _Answered(model.version, rows)
    return Reading(recognize(pre.crops, pre.boxes, answered, reason=pre.reason), pre)


@dataclass
class _Answered:
    """A classifier whose answer for the chosen crops was computed already, in that one call."""

    version: str
    rows: np.ndarray

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        return self.rows
