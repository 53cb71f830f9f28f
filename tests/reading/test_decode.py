"""Decoding uploads: every kind of image we accept, and every way an upload can be bad."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageDraw

from digitbot import texts
from digitbot.defaults import MAX_DOWNLOAD_BYTES
from digitbot.errors import (
    BadImageError,
    CorruptImageError,
    ImageTooLargeError,
    NotAnImageError,
)
from reading.decode import ImageInfo, decode_image, probe_image

ORIENTATION = 0x0112


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    if fmt == "HEIF":  # written by pillow-heif itself: the test registers no Pillow opener
        pillow_heif.from_pillow(image).save(buffer, **options)
    else:
        image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _half_and_half(size: tuple[int, int] = (120, 80)) -> Image.Image:
    """Black on the left, white on the right: shows any turn or flip."""
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1] - 1), fill=0)
    return image


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + _png_chunk(b"IEND", b"")
    )


def test_grayscale_float_in_unit_range() -> None:
    data = _encode(_half_and_half(), "PNG")
    gray = decode_image(data)
    assert gray.dtype == np.float32
    assert gray.shape == (80, 120)
    assert gray.min() == 0.0 and gray.max() == 1.0


def test_probe_reads_the_header() -> None:
    info = probe_image(_encode(_half_and_half((300, 200)), "JPEG"))
    assert (info.format, info.width, info.height, info.frames) == ("JPEG", 300, 200, 1)


@pytest.mark.parametrize(
    ("orientation", "stored_turn"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(orientation: int, stored_turn: Image.Transpose) -> None:
    upright = _half_and_half()
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    data = _encode(upright.transpose(stored_turn), "JPEG", quality=95, exif=exif.tobytes())
    gray = decode_image(data)
    assert gray.shape == (80, 120)
    assert gray[:, :50].mean() < 0.1  # the black half is on the left again
    assert gray[:, 70:].mean() > 0.9


def test_heic_from_an_iphone_decodes_like_a_jpeg() -> None:
    photo = _half_and_half((300, 200)).convert("RGB")
    data = _encode(photo, "HEIF", quality=90)
    assert data[4:12] == b"ftypheic"  # what an iPhone writes
    assert probe_image(data) == ImageInfo(format="HEIF", width=300, height=200, frames=1)
    gray = decode_image(data)
    as_jpeg = decode_image(_encode(photo, "JPEG", quality=90))
    assert gray.shape == as_jpeg.shape == (200, 300)
    assert gray.dtype == np.float32
    assert float(np.abs(gray - as_jpeg)[:, list(range(140)) + list(range(160, 300))].max()) < 0.1
    assert decode_image(data, max_side=150).shape == (100, 150)


def test_heic_orientation_shows_the_photo_upright() -> None:
    """An iPhone stores the sensor's pixels and says how to turn them; either HEIC's own
    rotation or EXIF's must end upright, never turned twice."""
    upright = _half_and_half().convert("RGB")
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    data = _encode(upright.transpose(Image.Transpose.ROTATE_90), "HEIF", exif=exif.tobytes())
    gray = decode_image(data)
    assert gray.shape == (80, 120)
    assert gray[:, :50].mean() < 0.1 and gray[:, 70:].mean() > 0.9


def test_heic_opener_is_registered_on_first_use_only() -> None:
    """The bot imports this module at start-up; libheif loads when the first image comes."""
    code = (
        "import sys; from reading import decode; print('pillow_heif' in sys.modules); "
        "decode.probe_image(sys.stdin.buffer.read()); print('pillow_heif' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=_encode(_half_and_half(), "PNG"),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [b"False", b"True"]


def test_an_unknown_format_is_still_not_an_image_and_the_answer_names_heic() -> None:
    with pytest.raises(NotAnImageError) as raised:
        probe_image(b"\x00\x00\x00\x18ftypavis" + bytes(100))  # AVIF is not accepted
    assert "HEIC" in raised.value.user_message
    assert "HEIC" in texts.BAD_IMAGE


def test_large_jpeg_is_downscaled_while_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """libjpeg decodes a 12-megapixel photo at 1/4 scale: the full-size pixels never exist.
    (How fast that is belongs in the benchmarks, not here.)"""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, size=(300, 400), dtype=np.uint8)
    big = Image.fromarray(noise).resize((4000, 3000), Image.Resampling.BILINEAR)
    data = _encode(big, "JPEG", quality=85)
    loaded: list[tuple[str, tuple[int, int]]] = []
    real_load = Image.Image.load

    def recording_load(image: Image.Image) -> object:
        result = real_load(image)
        loaded.append((image.mode, image.size))
        return result

    monkeypatch.setattr(Image.Image, "load", recording_load)
    gray = decode_image(data, max_side=640)
    assert gray.shape == (480, 640)
    # The pixels decoded: the largest 1/2^k scale still at least 640 wide, grey only.
    assert loaded and loaded[0] == ("L", (1000, 750)), loaded
    assert max(width * height for _, (width, height) in loaded) == 1000 * 750


def test_max_side_is_respected_for_every_format() -> None:
    image = _half_and_half((2000, 500))
    for fmt in ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"):
        gray = decode_image(_encode(image, fmt), max_side=1024)
        assert max(gray.shape) == 1024, fmt


def test_sixteen_bit_png() -> None:
    levels = np.zeros((40, 60), dtype=np.uint16)
    levels[:, 30:] = 65535
    data = _encode(Image.fromarray(levels), "PNG")
    gray = decode_image(data)
    assert gray[:, :25].max() == 0.0
    assert gray[:, 35:].min() == 1.0


def test_cmyk_jpeg() -> None:
    image = Image.new("CMYK", (80, 60), (0, 0, 0, 0))  # white paper
    ImageDraw.Draw(image).rectangle((0, 0, 39, 59), fill=(0, 0, 0, 255))  # black ink
    gray = decode_image(_encode(image, "JPEG", quality=95))
    assert gray[:, :30].mean() < 0.15
    assert gray[:, 50:].mean() > 0.85


def test_palette_png_with_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (60, 40), 0)
    # Index 0 is black but fully transparent; index 1 is opaque black ink.
    image.putpalette([0, 0, 0, 0, 0, 0] + [0] * (254 * 3))
    ImageDraw.Draw(image).rectangle((0, 0, 29, 39), fill=1)
    data = _encode(image, "PNG", transparency=0)
    gray = decode_image(data)
    assert gray[:, :25].max() < 0.05
    assert gray[:, 35:].min() > 0.95


def test_la_and_rgba_pngs_are_composited_on_white() -> None:
    la = Image.new("LA", (50, 50), (0, 0))  # black, fully transparent
    ImageDraw.Draw(la).rectangle((0, 0, 24, 49), fill=(0, 255))
    rgba = la.convert("RGBA")
    for image in (la, rgba):
        gray = decode_image(_encode(image, "PNG"))
        assert gray[:, :20].max() < 0.05
        assert gray[:, 30:].min() > 0.95


def test_animated_gif_uses_the_first_frame() -> None:
    first = _half_and_half()
    second = Image.new("L", (120, 80), 0)
    data = _encode(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)
    assert probe_image(data).frames == 2
    gray = decode_image(data)
    assert gray[:, 70:].mean() > 0.9


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_file_is_corrupt(fmt: str) -> None:
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 255, size=(200, 300), dtype=np.uint8))
    data = _encode(image, fmt)
    with pytest.raises(CorruptImageError):
        decode_image(data[: len(data) // 2])


def test_random_bytes_are_not_an_image() -> None:
    rng = np.random.default_rng(2)
    for _ in range(20):
        data = rng.integers(0, 256, size=int(rng.integers(1, 5000)), dtype=np.uint8).tobytes()
        with pytest.raises(NotAnImageError):
            probe_image(data)
        with pytest.raises(NotAnImageError):
            decode_image(data)


@pytest.mark.parametrize("data", [b"", b"hello, this is text", b"%PDF-1.4\n%\xe2\xe3"])
def test_other_files_are_not_images(data: bytes) -> None:
    with pytest.raises(NotAnImageError):
        decode_image(data)


def test_non_bytes_input_is_not_an_image() -> None:
    with pytest.raises(NotAnImageError):
        decode_image("photo.jpg")  # type: ignore[arg-type]


def test_decompression_bomb_header_is_refused_before_decoding() -> None:
    data = _png_header_only(100_000, 100_000)
    with pytest.raises(ImageTooLargeError):
        probe_image(data)
    with pytest.raises(ImageTooLargeError):
        decode_image(data)


def test_more_pixels_than_our_limit_is_refused() -> None:
    # 60 megapixels: under Pillow's own bomb limit, over ours.
    data = _png_header_only(10_000, 6_000)
    with pytest.raises(ImageTooLargeError):
        probe_image(data)


def test_too_many_bytes_is_refused() -> None:
    with pytest.raises(ImageTooLargeError):
        probe_image(b"\xff\xd8" + b"\x00" * MAX_DOWNLOAD_BYTES)


def test_damaged_files_only_ever_raise_bad_image_errors() -> None:
    rng = np.random.default_rng(3)
    base = Image.fromarray(rng.integers(0, 255, size=(64, 96), dtype=np.uint8))
    formats = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "HEIF")
    originals = [_encode(base, fmt) for fmt in formats]
    for original in originals:
        for _ in range(40):
            damaged = bytearray(original)
            for position in rng.integers(0, len(damaged), size=int(rng.integers(1, 8))):
                damaged[position] = int(rng.integers(0, 256))
            cut = int(rng.integers(len(damaged) // 4, len(damaged) + 1))
            try:
                gray = decode_image(bytes(damaged[:cut]))
            except BadImageError:
                continue
            assert gray.dtype == np.float32 and gray.ndim == 2
            assert float(gray.min()) >= 0.0 and float(gray.max()) <= 1.0
