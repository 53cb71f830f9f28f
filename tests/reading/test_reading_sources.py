"""Digits we did not draw: image files of MNIST test digits, soft edges, tight frames.

Each case here was answered "I don't see a digit here" before the clean-picture path
(reading.preprocess_clean): a 28x28 PNG as it is or inverted, an anti-aliased enlargement, a
blurred digit, a 0 filling its frame. The last test is the cross-source table in small form,
with a floor the old reading failed (it read about 1 % of these files).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from reading.model import DigitModel
from reading.pipeline import read_photo
from reading.preprocess import preprocess
from reading.preprocess_clean import find_ink_clean
from tests.support.photos import mnist_test_digits
from training import canvas_source
from training.cross_source import MNIST_FILE_SETS, mnist_file_sets
from training.heldout_photos import build_heldout_set
from training.photo_benchmark import evaluate_photo_sets


def png(image: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


def first_of(label: int) -> np.ndarray:
    images, labels = mnist_test_digits()
    return images[int(np.flatnonzero(labels == label)[0])]


def read(data: bytes, model: DigitModel) -> str:
    return read_photo(data, model).recognition.text


@pytest.mark.parametrize("label", [2, 5, 8])
def test_a_28x28_mnist_png_is_read_as_it_is_and_inverted(
    label: int, shipped_model: DigitModel
) -> None:
    digit = first_of(label)
    assert read(png(digit), shipped_model) == str(label)
    assert read(png(255 - digit), shipped_model) == str(label)


def test_a_soft_edged_enlargement_is_read(shipped_model: DigitModel) -> None:
    big = Image.fromarray(255 - first_of(2)).resize((280, 280), Image.Resampling.BICUBIC)
    assert read(png(np.asarray(big)), shipped_model) == "2"
    blurred = big.filter(ImageFilter.GaussianBlur(4))
    assert read(png(np.asarray(blurred)), shipped_model) == "2"


def test_a_zero_filling_its_frame_is_read(shipped_model: DigitModel) -> None:
    image = Image.new("L", (120, 160), 255)
    ImageDraw.Draw(image).ellipse([0, 0, 119, 159], outline=0, width=12)
    data = png(np.asarray(image))
    assert len(preprocess(data).crops) == 1
    assert read(data, shipped_model) == "0"


def photo_of(ink: np.ndarray, *, seed: int = 0) -> bytes:
    """Ink coverage (floats, ink bright) as a phone photo: uneven light and sensor noise, so
    the picture is not a clean one (the photo path reads it)."""
    rng = np.random.default_rng(seed)
    height, width = ink.shape
    light = np.linspace(0.95, 0.7, width)[None, :] * np.ones((height, 1))
    grey = light * (1.0 - 0.8 * ink) + rng.normal(0, 0.03, ink.shape)
    data = np.clip(grey * 255, 0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(data).save(out, "JPEG", quality=85)
    return out.getvalue()


def enlarged_ink(label: int, side: int, blur: float = 0.0) -> np.ndarray:
    big = Image.fromarray(first_of(label)).resize((side, side), Image.Resampling.BICUBIC)
    if blur:
        big = big.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(big, np.float32) / 255.0


def test_a_defocused_digit_in_a_photo_is_read(shipped_model: DigitModel) -> None:
    """Soft edges were refused by a sharpness floor fitted to pen-traced training photos."""
    ink = np.zeros((360, 480), np.float32)
    ink[60:300, 120:360] = enlarged_ink(3, 240, blur=5)
    assert read(photo_of(ink), shipped_model) == "3"


def test_a_zero_filling_the_frame_of_a_photo_is_read(shipped_model: DigitModel) -> None:
    """A mark spanning the frame was taken for the sheet's edge or a shadow."""
    ink = np.zeros((200, 150), np.float32)
    image = Image.fromarray(ink)
    ImageDraw.Draw(image).ellipse([0, 0, 149, 199], outline=1.0, width=16)
    assert read(photo_of(np.asarray(image, np.float32), seed=1), shipped_model) == "0"


@pytest.mark.parametrize("shape", ["dash", "underline", "plus"])
def test_marks_that_are_no_digit_are_refused_by_the_model(
    shape: str, shipped_model: DigitModel
) -> None:
    """Lines and dashes reach the model now (no aspect rule) and it says "not a digit"."""
    image = Image.fromarray(np.zeros((300, 400), np.float32))
    draw = ImageDraw.Draw(image)
    if shape == "dash":
        draw.line([(150, 150), (250, 152)], fill=1.0, width=14)
    elif shape == "underline":
        draw.line([(60, 200), (340, 196)], fill=1.0, width=8)
    else:
        draw.line([(200, 90), (200, 210)], fill=1.0, width=14)
        draw.line([(140, 150), (260, 150)], fill=1.0, width=14)
    assert read(photo_of(np.asarray(image, np.float32), seed=2), shipped_model) == ""


def test_a_shadow_or_table_is_not_a_clean_picture() -> None:
    """The clean path is for even paper: a second wide level (shadow, table) is not ink."""
    page = np.full((300, 400), 0.9, np.float32)
    page[:, 260:] = 0.35  # the table beside the sheet
    assert find_ink_clean(page) is None
    page = np.full((300, 400), 0.9, np.float32)
    page[100:120, 150:160] = 0.1  # a stroke
    assert find_ink_clean(page) is not None


def test_mnist_files_and_heldout_photos_in_small_form(shipped_model: DigitModel) -> None:
    digits = mnist_test_digits()
    sets = {f"mnist-files/{k}": v for k, v in mnist_file_sets(digits, 30, draw=3).items()}
    sets["heldout/single"] = build_heldout_set("single", digits, 30, draw=3)
    scores = evaluate_photo_sets(lambda data: read(data, shipped_model), sets)
    for name in MNIST_FILE_SETS:
        assert scores[f"mnist-files/{name}"].accuracy >= 0.9, scores[f"mnist-files/{name}"]
    assert scores["heldout/single"].accuracy >= 0.6, scores["heldout/single"]


def test_digits_drawn_on_the_page_in_chromium_in_small_form(shipped_model: DigitModel) -> None:
    """The canvas source (training.canvas_source): the page's own JavaScript paints replayed
    strokes in a real headless Chromium."""
    missing = canvas_source.available()
    if missing:
        pytest.skip(f"canvas source: {missing}")
    samples = canvas_source.build_canvas_set(mnist_test_digits(), 24, draw=3)
    score = evaluate_photo_sets(lambda data: read(data, shipped_model), {"canvas": samples})
    assert score["canvas"].accuracy >= 0.9, score["canvas"]
