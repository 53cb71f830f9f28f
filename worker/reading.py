"""Read one photo: decode + preprocess + model. The one path every caller shares
(workers, `digitbot predict`, the web page, the photo benchmark)."""

from __future__ import annotations

from dataclasses import dataclass

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
