"""Augmentation that makes MNIST digits look like what our photo preprocessing produces.

A phone photo, once cleaned up and fitted into 28×28, differs from MNIST in small ways: the
digit is a little rotated, off-centre or mis-scaled, the pen was thicker or thinner, the
focus soft, the paper grainy. Each layer here reproduces one of those, per image, with its
own random strength. They are pure Keras layers, active only when called with
`training=True`, so they run inside the training graph on both cores (no Python loop, no
separate input pipeline) and never ship in the saved model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import keras
from keras import layers, ops

IMAGE_SIDE = 28
# Rotations and scaling pivot on the centre of mass, where MNIST puts it (pixel index 14).
PIVOT = IMAGE_SIDE / 2
# A normalised 3×3 Gaussian (sigma ≈ 0.85 px): the softest blur a phone still shows at 28×28.
BLUR_KERNEL_1D = (0.25, 0.5, 0.25)


@dataclass(frozen=True)
class AugmentConfig:
    """How strong each distortion may get; every image draws its own strength up to these."""

    max_rotation_degrees: float = 12.0
    max_shift_pixels: float = 2.0
    min_scale: float = 0.85
    max_scale: float = 1.1
    # Share of images whose stroke width changes, and how far towards a 3×3 dilation
    # (thicker) or erosion (thinner) they may move. Erosion is kept milder: MNIST strokes are
    # only 2-3 px wide and a full erosion would erase them.
    stroke_probability: float = 0.5
    max_thicken: float = 1.0
    max_thin: float = 0.5
    blur_probability: float = 0.3
    max_blur: float = 1.0
    noise_probability: float = 0.3
    max_noise_stddev: float = 0.08


DEFAULT_CONFIG = AugmentConfig()


class RandomStrokeWidth(layers.Layer):
    """Thicken or thin the strokes by blending towards a grey-level dilation or erosion."""

    def __init__(
        self,
        probability: float,
        max_thicken: float,
        max_thin: float,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.probability, self.max_thicken, self.max_thin = probability, max_thicken, max_thin
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool = False) -> Any:
        if not training:
            return images
        strength = uniform_per_image(images, -1.0, 1.0, self.seed_generator)
        strength = strength * bernoulli_per_image(images, self.probability, self.seed_generator)
        dilated = dilate(images)
        eroded = -dilate(-images)
        thicker = images + ops.maximum(strength, 0.0) * self.max_thicken * (dilated - images)
        return thicker + ops.maximum(-strength, 0.0) * self.max_thin * (eroded - images)


class RandomAffine(layers.Layer):
    """Rotate, scale and shift each image in one bilinear resampling (one blur, not three)."""

    def __init__(
        self,
        max_rotation_degrees: float,
        max_shift_pixels: float,
        min_scale: float,
        max_scale: float,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_radians = math.radians(max_rotation_degrees)
        self.max_shift = max_shift_pixels
        self.min_scale, self.max_scale = min_scale, max_scale
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool = False) -> Any:
        if not training:
            return images

        def draw(low: float, high: float) -> Any:
            return ops.reshape(uniform_per_image(images, low, high, self.seed_generator), (-1, 1))

        angle = draw(-self.max_radians, self.max_radians)
        scale = draw(self.min_scale, self.max_scale)
        shift_x = draw(-self.max_shift, self.max_shift)
        shift_y = draw(-self.max_shift, self.max_shift)
        # affine_transform maps each output pixel to the input pixel it samples, so this is the
        # inverse of "scale and rotate about the pivot, then shift".
        cos, sin = ops.cos(angle) / scale, ops.sin(angle) / scale
        out_x, out_y = PIVOT + shift_x, PIVOT + shift_y
        transform = ops.concatenate(
            [
                cos,
                sin,
                PIVOT - cos * out_x - sin * out_y,
                -sin,
                cos,
                PIVOT + sin * out_x - cos * out_y,
                ops.zeros_like(cos),
                ops.zeros_like(cos),
            ],
            axis=1,
        )
        return ops.image.affine_transform(
            images, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0
        )


class RandomBlur(layers.Layer):
    """Soften some images, blending each towards a 3×3 Gaussian blur by its own amount."""

    def __init__(
        self, probability: float, max_blur: float, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.probability, self.max_blur = probability, max_blur
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool = False) -> Any:
        if not training:
            return images
        amount = uniform_per_image(images, 0.0, self.max_blur, self.seed_generator)
        amount = amount * bernoulli_per_image(images, self.probability, self.seed_generator)
        blurred = blur(images)
        return images + amount * (blurred - images)


class RandomNoise(layers.Layer):
    """Add Gaussian sensor/paper noise to some images, then clip back into [0, 1]."""

    def __init__(
        self, probability: float, max_stddev: float, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.probability, self.max_stddev = probability, max_stddev
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool = False) -> Any:
        if not training:
            return images
        stddev = uniform_per_image(images, 0.0, self.max_stddev, self.seed_generator)
        stddev = stddev * bernoulli_per_image(images, self.probability, self.seed_generator)
        noise = keras.random.normal(ops.shape(images), seed=self.seed_generator)
        return ops.clip(images + stddev * noise, 0.0, 1.0)


# 3×3 neighbourhood filters as shifted slices along one axis at a time. On one-channel images
# this is several times faster than max_pool / depthwise_conv, which vectorise over channels.


def neighbours(images: Any, axis: int) -> tuple[Any, Any, Any]:
    """The (previous, same, next) pixel along `axis` (1 = rows, 2 = columns), zero-padded."""
    padding = [[0, 0], [0, 0], [0, 0], [0, 0]]
    padding[axis] = [1, 1]
    padded = ops.pad(images, padding)
    size = ops.shape(images)[axis]
    return tuple(
        padded[:, offset : offset + size] if axis == 1 else padded[:, :, offset : offset + size]
        for offset in range(3)
    )


def dilate(images: Any) -> Any:
    """Grey-level dilation with a 3×3 square: each pixel becomes its neighbourhood's maximum."""
    for axis in (1, 2):
        before, same, after = neighbours(images, axis)
        images = ops.maximum(ops.maximum(before, same), after)
    return images


def blur(images: Any) -> Any:
    """3×3 Gaussian blur, applied as the same 1-D kernel along rows and then columns."""
    for axis in (1, 2):
        before, same, after = neighbours(images, axis)
        images = BLUR_KERNEL_1D[0] * before + BLUR_KERNEL_1D[1] * same + BLUR_KERNEL_1D[2] * after
    return images


def uniform_per_image(images: Any, low: float, high: float, seed: Any) -> Any:
    """One uniform draw per image, shaped (N, 1, 1, 1) to broadcast over its pixels."""
    batch = ops.shape(images)[0]
    return keras.random.uniform((batch, 1, 1, 1), low, high, seed=seed)


def bernoulli_per_image(images: Any, probability: float, seed: Any) -> Any:
    return ops.cast(uniform_per_image(images, 0.0, 1.0, seed) < probability, images.dtype)


def build_augmenter(config: AugmentConfig = DEFAULT_CONFIG, seed: int = 0) -> keras.Sequential:
    """Return the augmentation pipeline as a Keras model; it is the identity unless training.

    Order matters: stroke width first (a pen property), then the geometry, then what the camera
    adds (blur, noise).
    """
    return keras.Sequential(
        [
            keras.Input((IMAGE_SIDE, IMAGE_SIDE, 1)),
            RandomStrokeWidth(
                config.stroke_probability, config.max_thicken, config.max_thin, seed=seed
            ),
            RandomAffine(
                config.max_rotation_degrees,
                config.max_shift_pixels,
                config.min_scale,
                config.max_scale,
                seed=seed + 1,
            ),
            RandomBlur(config.blur_probability, config.max_blur, seed=seed + 2),
            RandomNoise(config.noise_probability, config.max_noise_stddev, seed=seed + 3),
        ],
        name="augmenter",
    )
