"""How a threshold on P(not a digit) would trade digits for refused non-digits, on validation
crops from the training renderers with a seed of their own (never an evaluation set).

    DIGITBOT_HOME=... python -m benchmarks.not_digit_threshold [MODEL.keras ...]

Prints, per model and threshold, the share of digit crops read right and of non-digit crops
refused, and the same for the argmax rule the workers use (BENCHMARKS.md, "Reading what we did
not draw").
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

VALIDATION_SEED = 7_100_001
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def main(argv: list[str]) -> int:
    from digitbot.settings import Settings
    from reading.model import DigitModel, shipped_model_path
    from training.datasets import load_mnist
    from training.photo_crops import CropRecipe, load_photo_crops

    home = Settings.from_env().home
    data = load_mnist(home)
    recipe = CropRecipe(
        600, 600, seed=VALIDATION_SEED, num_low_resolution_photos=300,
        num_placed_photos=600, num_placed_negative_photos=600,
    )  # fmt: skip
    crops = load_photo_crops(home, data.x_train, data.y_train, recipe, mnist_sha256=data.sha256)
    labels, negative = crops.labels, crops.labels == 10
    print(f"{len(labels)} validation crops, {int(negative.sum())} not digits")
    for path in argv or [str(shipped_model_path())]:
        p = DigitModel.load(Path(path)).probabilities(crops.images.astype(np.float32) / 255.0)
        digit_right = p[:, :10].argmax(1) == labels
        rules = [(f"P(not a digit) >= {t}", p[:, 10] >= t) for t in THRESHOLDS]
        rules.append(("argmax", p.argmax(1) == 10))
        for name, refused in rules:
            digits = float((~refused & digit_right)[~negative].mean())
            refused_share = float(refused[negative].mean())
            print(f"{path}  {name:22s} digits right {digits:.3f}  non-digits refused "
                  f"{refused_share:.3f}  balanced {(digits + refused_share) / 2:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
