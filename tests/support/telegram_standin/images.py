"""The sizes Telegram offers of a photo: thumbnails made here, smallest first."""

from __future__ import annotations

import functools
import io
import warnings

from PIL import Image

THUMBNAIL_SIDES = (90, 320)  # Telegram's "s" and "m" photo sizes
MAX_THUMBNAIL_PIXELS = 40_000_000  # bigger images get duplicate entries instead of thumbnails


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as Telegram would report them, or None when Pillow cannot read it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # decompression-bomb warnings: tests send bombs
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                orientation = image.getexif().get(0x0112, 1)
    except Exception:
        return None
    # Telegram applies the EXIF rotation when it re-encodes; report the upright size.
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _jpeg_thumbnail(data: bytes, side: int) -> tuple[bytes, int, int] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.draft("RGB", (side, side))  # JPEG: decode at reduced scale, much cheaper
                thumbnail = image.convert("RGB")
                thumbnail.thumbnail((side, side))
                buffer = io.BytesIO()
                thumbnail.save(buffer, "JPEG", quality=80)
                return buffer.getvalue(), thumbnail.width, thumbnail.height
    except Exception:
        return None


def photo_variants(data: bytes) -> tuple[list[tuple[bytes, int, int]], bool]:
    """The PhotoSize contents, smallest first (the last is `data`), and whether it decoded.

    Looked up through this module at each call, so the load test can put sizes it made ahead
    of time in its place (benchmarks.stack.precomputed_photo_sizes).
    """
    size = _image_size(data)
    if size is None:
        return [(data, 320, 240), (data, 1280, 960)], False
    width, height = size
    variants: list[tuple[bytes, int, int]] = []
    if width * height <= MAX_THUMBNAIL_PIXELS:
        for side in THUMBNAIL_SIDES:
            if max(width, height) > side and (thumbnail := _jpeg_thumbnail(data, side)):
                variants.append(thumbnail)
    if not variants:  # tiny or huge: Telegram still sends more than one size
        variants.append((data, width, height))
    variants.append((data, width, height))
    return variants, True


@functools.cache
def sticker_webp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (512, 512), (255, 200, 0, 255)).save(buffer, "WEBP")
    return buffer.getvalue()
