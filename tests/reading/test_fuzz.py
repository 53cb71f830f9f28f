"""Hostile and odd input, property-based: every input gets a correct result or a BadImageError
with a user-facing message, never another exception, and bounded work: the image read is never
larger than the segmentation size, and oversized images are refused before any pixel is
decoded. (A hang is caught by pytest-timeout; how fast input is read belongs in the benchmarks.)
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from digitbot.errors import BadImageError, ImageTooLargeError, NotAnImageError
from reading.decode import probe_image
from reading.preprocess import SEGMENT_MAX_SIDE, Preprocessed, preprocess

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data: bytes) -> Preprocessed | BadImageError:
    try:
        result: Preprocessed | BadImageError = preprocess(data)
    except BadImageError as exc:
        assert exc.user_message and len(exc.user_message) > 20
        result = exc
    if isinstance(result, Preprocessed):
        assert max(result.image_size) <= SEGMENT_MAX_SIDE  # the work is bounded by this size
        assert result.crops.dtype == np.float32 and result.crops.shape[1:] == (28, 28)
        assert len(result.boxes) == len(result.crops)
        assert np.all((result.crops >= 0) & (result.crops <= 1))
        width, height = result.image_size
        for x0, y0, x1, y1 in result.boxes:
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    return result


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def sample_photo() -> bytes:
    rng = np.random.default_rng(1)
    page = np.full((300, 400), 220, np.uint8)
    page[100:200, 190:205] = 30  # a "1"
    page += rng.integers(0, 10, page.shape, dtype=np.uint8)
    return encode(Image.fromarray(page), "JPEG", quality=80)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    assert isinstance(check(data), NotAnImageError | BadImageError)


@FUZZ
@given(st.data())
def test_damaged_real_files(data: st.DataObject) -> None:
    original = bytearray(
        sample_photo()
        if data.draw(st.booleans())
        else encode(Image.new("RGB", (64, 48), (200, 200, 200)), "PNG")
    )
    cut = data.draw(st.integers(1, len(original)))
    damaged = original[:cut]
    for _ in range(data.draw(st.integers(0, 8))):
        position = data.draw(st.integers(0, len(damaged) - 1))
        damaged[position] = data.draw(st.integers(0, 255))
    check(bytes(damaged))


MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]


@FUZZ
@given(
    mode=st.sampled_from(MODES),
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    fmt=st.sampled_from(["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]),
    seed=st.integers(0, 2**16),
)
def test_any_mode_size_and_format(mode: str, width: int, height: int, fmt: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(0, 255, (height, width), dtype=np.uint8)).convert(mode)
    try:
        data = encode(image, fmt)
    except (OSError, ValueError, KeyError):
        return  # Pillow cannot write this mode in this format; nothing to test
    check(data)


@pytest.mark.parametrize("size", [(20000, 20), (20, 20000), (1, 1), (2, 2)])
def test_extreme_shapes(size: tuple[int, int]) -> None:
    check(encode(Image.new("L", size, 200), "PNG"))


@pytest.mark.parametrize("orientation", [0, 9, 255, 65535])
def test_absurd_exif_orientation(orientation: int) -> None:
    image = Image.new("RGB", (80, 60), (210, 210, 210))
    exif = Image.Exif()
    exif[0x0112] = orientation
    check(encode(image, "JPEG", exif=exif.tobytes()))


def test_heic_looking_bytes_are_not_an_image() -> None:
    data = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    assert isinstance(check(data), NotAnImageError)


def test_animated_webp_reads_its_first_frame() -> None:
    frames = [Image.new("L", (60, 60), 230) for _ in range(3)]
    for index, frame in enumerate(frames):
        frame.paste(20, (25, 10 + index, 33, 50))
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    assert probe_image(data).frames == 3
    result = check(data)
    assert isinstance(result, Preprocessed)


def test_file_just_under_the_limit_is_read_and_over_it_refused() -> None:
    photo = sample_photo()
    just_under = photo + b"\x00" * (19_900_000 - len(photo))  # trailing junk after the JPEG
    assert not isinstance(check(just_under), ImageTooLargeError)
    over = photo + b"\x00" * (21 * 1024 * 1024 - len(photo))
    assert isinstance(check(over), ImageTooLargeError)


def test_decompression_bomb_png_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A real PNG of 30000 x 30000 pixels: tiny on disk, 900 MP when decoded.
    bomb = encode(Image.new("1", (30000, 30000), 0), "PNG")
    assert len(bomb) < 1_000_000
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def recording_load(image: ImageFile.ImageFile) -> object:
        decoded.append(image.size)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", recording_load)
    assert isinstance(check(bomb), ImageTooLargeError)
    assert decoded == []  # refused from the header alone
