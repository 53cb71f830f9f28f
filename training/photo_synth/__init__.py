"""Phone-like photos of handwritten digits, made from 28x28 digit images, reproducibly.

Each digit's strokes are traced to centre lines and drawn again with a pen (ballpoint, marker,
pencil or chalk) at photo size, then put on paper with uneven light, a shadow, ruled or squared
lines, sometimes the edge of the sheet, blur, sensor noise and JPEG compression; some files are
stored rotated with an EXIF orientation tag, the way phones do. Everything random comes from the
`numpy.random.Generator` passed in, so a seed gives the same bytes every time.

The benchmark sets (`build_photo_set`) draw from MNIST's *test* digits and sklearn's optdigits
only, never from MNIST's training digits.

Modules, in the order a photo is made: `style` (how it looks), `strokes` (centre lines and the
pen), `paper` (the sheet and the table), `camera` (the photograph), `negatives` (photos with no
digit), `sets` (the benchmark's sets).
"""

from training.photo_synth.camera import render_photo
from training.photo_synth.negatives import (
    NEGATIVE_KINDS,
    TRAINING_ONLY_NEGATIVE_KINDS,
    render_negative,
)
from training.photo_synth.sets import DEFAULT_SEEDS, SET_NAMES, PhotoSample, build_photo_set
from training.photo_synth.style import PhotoStyle, random_style

__all__ = [
    "DEFAULT_SEEDS",
    "NEGATIVE_KINDS",
    "SET_NAMES",
    "TRAINING_ONLY_NEGATIVE_KINDS",
    "PhotoSample",
    "PhotoStyle",
    "build_photo_set",
    "random_style",
    "render_negative",
    "render_photo",
]
