"""Training crops rendered for a test, through the same cached path training takes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from training.photo_crops import CropRecipe, PhotoCrops, load_photo_crops


def build_photo_crops(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    recipe: CropRecipe,
    *,
    processes: int | None = None,
) -> PhotoCrops:
    """Render and read back the recipe's photos, caching them in a home thrown away after."""
    with tempfile.TemporaryDirectory() as home:
        return load_photo_crops(
            Path(home), train_images, train_labels, recipe, mnist_sha256="test", processes=processes
        )
