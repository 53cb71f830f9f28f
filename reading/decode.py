"""Image bytes -> a small float grayscale array, safely.

The bot imports this module to validate uploads (`probe_image`), so it depends on Pillow (with
pillow-heif for iPhones' HEIC) and numpy only. Everything that can go wrong with an upload ends
as one of the `BadImageError` subclasses; no other exception type leaves this module for any
input bytes.
"""

from __future__ import annotations

import functools
import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from digitbot.defaults import MAX_DOWNLOAD_BYTES, MAX_IMAGE_PIXELS, WORKING_MAX_SIDE
from digitbot.errors import (
    BadImageError,
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
)

# Formats we accept. Pillow can open many more (EPS, PSD, ICNS...), but every extra parser is
# attack surface and none of them is a phone photo. MPO is how Pillow names many phone JPEGs;
# HEIF (pillow-heif's opener) is how iPhones store photos sent as files (.heic).
ACCEPTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF")

EXIF_ORIENTATION_TAG = 0x0112
# EXIF orientation value -> the transpose that makes the stored pixels display upright.
_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


@functools.cache
def opener_formats() -> tuple[str, ...]:
    """The accepted formats that have an opener, pillow-heif's registered on the first call
    (importing it loads libheif, which a process that never sees an image need not pay).

    Image.open(formats=...) raises KeyError for a name with no opener of its own: in Pillow 13
    MPO files are opened by the JPEG plugin. So only formats with an opener are asked for."""
    from pillow_heif import register_heif_opener

    Image.init()
    register_heif_opener()
    return tuple(f for f in ACCEPTED_FORMATS if f in Image.OPEN)


@dataclass(frozen=True)
class ImageInfo:
    """What the header says: container format, stored size in pixels, number of frames."""

    format: str
    width: int
    height: int
    frames: int


def probe_image(data: bytes) -> ImageInfo:
    """Read only the header of `data` and say what it is.

    Raises NotAnImageError, CorruptImageError or ImageTooLargeError; never decodes pixels.
    """
    image = _open(data)
    try:
        frames = int(getattr(image, "n_frames", 1))
    except Exception as exc:  # counting frames walks the file; a damaged one fails here
        raise CorruptImageError(f"cannot count frames of {image.format} image: {exc!r}") from exc
    return ImageInfo(
        format=str(image.format), width=image.width, height=image.height, frames=frames
    )


def decode_image(data: bytes, *, max_side: int = WORKING_MAX_SIDE) -> np.ndarray:
    """Decode `data` to float32 grayscale in [0, 1], shape (H, W), displayed upright.

    EXIF orientation is applied, transparency is composited on white, only the first frame of
    an animation is used, and the result is downscaled so its longest side is at most
    `max_side` (JPEGs are decoded at reduced size directly, which is what keeps a 12-megapixel
    photo fast).
    """
    if max_side < 1:
        raise ValueError(f"max_side must be a positive number of pixels, got {max_side}")
    image = _open(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            orientation = _exif_orientation(image)
            _draft_jpeg(image, max_side)
            image.load()
            gray, scale = _to_gray(image)
            gray = _shrink(gray, max_side)
            transpose = _ORIENTATION_TRANSPOSE.get(orientation)
            if transpose is not None:
                gray = gray.transpose(transpose)
            array = np.asarray(gray, dtype=np.float32)
    except BadImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"decompression bomb guard tripped: {exc}") from exc
    except MemoryError as exc:
        raise ImageTooLargeError("ran out of memory while decoding") from exc
    except Exception as exc:  # Pillow reports damage as OSError, SyntaxError, ValueError, ...
        raise CorruptImageError(f"cannot decode {image.format} image: {exc!r}") from exc
    array = array * np.float32(1.0 / scale)
    np.clip(array, 0.0, 1.0, out=array)
    return array


def _open(data: bytes) -> Image.Image:
    """Open the header lazily with size checks before any pixel is decoded."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise NotAnImageError(f"expected image bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise NotAnImageError("empty upload")
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ImageTooLargeError(f"{len(data)} bytes is over the {MAX_DOWNLOAD_BYTES} byte limit")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)), formats=opener_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"decompression bomb guard tripped: {exc}") from exc
    except Image.UnidentifiedImageError as exc:
        raise NotAnImageError(f"not a readable image ({len(data)} bytes): {exc}") from exc
    except Exception as exc:  # a known format whose header parser choked
        raise CorruptImageError(f"damaged image header: {exc!r}") from exc
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptImageError(f"image header says {width}x{height} pixels")
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageTooLargeError(
            f"{width}x{height} = {width * height} pixels is over the {MAX_IMAGE_PIXELS} limit"
        )
    return image


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = image.getexif().get(EXIF_ORIENTATION_TAG, 1)
        return int(value) if value in _ORIENTATION_TRANSPOSE else 1
    except Exception:  # a broken EXIF block must not lose the photo: assume upright
        return 1


def _draft_jpeg(image: Image.Image, max_side: int) -> None:
    """Let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below `max_side` on the long side."""
    if image.format not in ("JPEG", "MPO"):
        return
    width, height = image.size
    factor = max_side / max(width, height)
    if factor >= 1.0:
        requested = None
    else:
        requested = (max(1, int(np.ceil(width * factor))), max(1, int(np.ceil(height * factor))))
    # Asking for "L" makes libjpeg skip colour conversion; CMYK JPEGs keep their mode.
    mode = "L" if image.mode in ("RGB", "L", "YCbCr") else image.mode
    image.draft(mode, requested)


def _to_gray(image: Image.Image) -> tuple[Image.Image, float]:
    """One band, mode "L" or "F"; also the value that means white."""
    mode = image.mode
    if mode == "L":
        return image, 255.0
    if mode.startswith("I;16") or mode in ("I", "F"):
        array = np.asarray(image, dtype=np.float32)
        if mode == "F":
            white = float(max(1.0, float(array.max(initial=0.0))))
        else:
            white = 65535.0 if mode.startswith("I;16") or array.max(initial=0) > 255 else 255.0
        return Image.fromarray(np.ascontiguousarray(array)), white
    if mode == "P" or "transparency" in image.info:
        image = image.convert("RGBA")
        mode = image.mode
    if mode in _ALPHA_MODES:
        la = np.asarray(image.convert("LA"), dtype=np.float32)
        alpha = la[..., 1] * np.float32(1.0 / 255.0)
        # Transparent pixels show the page the image is viewed on: white.
        composed = la[..., 0] * alpha + 255.0 * (1.0 - alpha)
        return Image.fromarray(np.ascontiguousarray(composed, dtype=np.float32)), 255.0
    if mode == "1":
        return image.convert("L"), 255.0
    try:
        return image.convert("L"), 255.0
    except ValueError:  # modes without a direct L conversion (LAB, HSV)
        return image.convert("RGB").convert("L"), 255.0


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    width, height = image.size
    longest = max(width, height)
    if longest <= max_side:
        return image
    factor = max_side / longest
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    # reducing_gap: box-reduce by an integer factor first, then a cheap bilinear pass.
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
