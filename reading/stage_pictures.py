"""Where the pictures of preprocessing's stages are made, for the "how I read it" picture.

Most readings never show them, so they are made when first looked at: converting three
full-size float maps to uint8 costs about as much as finding the digits' boxes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
from PIL import Image

from reading.preprocess_ink import InkMaps

STAGE_NAMES = ("gray", "flattened", "binary")


class StagePictures(Mapping[str, np.ndarray]):
    """uint8 pictures of `image_size` by name: "gray" (the picture), "flattened" (lighting
    evened out, ink dark) and "binary" (the ink found, ruled lines removed)."""

    def __init__(self, work: np.ndarray, ink: InkMaps, image_size: tuple[int, int]) -> None:
        self._sources = (work, ink, image_size)
        self._pictures: dict[str, np.ndarray] | None = None

    def __getitem__(self, name: str) -> np.ndarray:
        return self._made()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(STAGE_NAMES)

    def __len__(self) -> int:
        return len(STAGE_NAMES)

    def _made(self) -> dict[str, np.ndarray]:
        if self._pictures is None:
            work, ink, image_size = self._sources
            pictures = {
                "gray": _to_uint8(work),
                "flattened": _to_uint8(1.0 - ink.contrast),
                "binary": ink.binary.astype(np.uint8) * 255,
            }
            self._pictures = _at_size(pictures, image_size)
        return self._pictures


def _at_size(pictures: dict[str, np.ndarray], image_size: tuple[int, int]) -> dict[str, np.ndarray]:
    """The pictures at the size the boxes refer to (they are made at segmentation size)."""
    first = next(iter(pictures.values()))
    if first.shape[::-1] == image_size:
        return pictures
    return {
        name: np.asarray(Image.fromarray(picture).resize(image_size, Image.Resampling.NEAREST))
        for name, picture in pictures.items()
    }


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats to uint8 (the inputs here are within range already)."""
    return (image * np.float32(255.0)).astype(np.uint8)
