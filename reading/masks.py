"""Operations on boolean masks, computed by OpenCV, with the results scipy.ndimage gives.

OpenCV runs these several times faster than scipy (and, for the small masks of one digit,
without scipy's per-call overhead); each function here says which scipy call it equals,
pixel for pixel, so the rules built on them decide exactly as they did.
"""

from __future__ import annotations

import cv2
import numpy as np

_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def label8(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components: int32 labels 1..count, and count. Equals
    `ndi.label(mask, structure=np.ones((3, 3)))`: Wu's algorithm (SAUF) numbers components
    in the order their first pixel comes in a row-by-row scan, as scipy does."""
    return _label(mask, 8)


def label4(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected components, as `ndi.label(mask)` (its default cross structure)."""
    return _label(mask, 4)


def erode_cross(mask: np.ndarray) -> np.ndarray:
    """`ndi.binary_erosion(mask)`: pixels whose 4 neighbours are set too (outside: unset)."""
    out = cv2.erode(_as_uint8(mask), _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return out.view(bool)


def dilate_cross(mask: np.ndarray) -> np.ndarray:
    """`ndi.binary_dilation(mask)`: pixels set or next to a set one (4-neighbourhood)."""
    out = cv2.dilate(_as_uint8(mask), _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return out.view(bool)


def _label(mask: np.ndarray, connectivity: int) -> tuple[np.ndarray, int]:
    count, labels = cv2.connectedComponentsWithAlgorithm(
        _as_uint8(mask), connectivity, cv2.CV_32S, cv2.CCL_SAUF
    )
    return labels, int(count) - 1


def _as_uint8(mask: np.ndarray) -> np.ndarray:
    """The mask as 0/1 bytes, without a copy where it is a contiguous bool array already."""
    if mask.dtype == bool:
        return np.ascontiguousarray(mask).view(np.uint8)
    return (np.asarray(mask) != 0).view(np.uint8)
