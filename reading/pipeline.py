"""Read photos: decode + preprocess + model. The one path every caller shares
(workers, `digitbot predict`, the web page, the photo benchmark)."""

from __future__ import annotations

from collections.abc import Sequence
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
    """Recognise the digits in an image file's bytes. Raises BadImageError for unreadable input."""
    return read_together([preprocess(data)], model)[0]


def read_together(photos: Sequence[Preprocessed], model: Classifier) -> list[Reading]:
    """Recognise several preprocessed photos with one model call on all their crops (and the
    crops of their touching-digit cut options, see `reading.touching`)."""
    inputs = [_model_inputs(pre) for pre in photos]
    nonempty = [crops for crops in inputs if len(crops)]
    rows = model.probabilities(np.concatenate(nonempty)) if nonempty else np.zeros((0, 0))
    readings = []
    start = 0
    for pre, crops in zip(photos, inputs, strict=True):
        own = rows[start : start + len(crops)]
        start += len(crops)
        if pre.cut_options:
            chosen, boxes, own = apply_cuts(pre.crops, pre.boxes, pre.cut_options, own)
            pre = replace(pre, crops=chosen, boxes=boxes, cut_options=[])
        answered = _Answered(model.version, own)
        readings.append(Reading(recognize(pre.crops, pre.boxes, answered, reason=pre.reason), pre))
    return readings


def _model_inputs(pre: Preprocessed) -> np.ndarray:
    return np.concatenate([pre.crops, *(option.crops for option in pre.cut_options)])


@dataclass
class _Answered:
    """A classifier whose answer for one photo's crops was computed already, in a batch."""

    version: str
    rows: np.ndarray

    def probabilities(self, crops: np.ndarray) -> np.ndarray:
        return self.rows
