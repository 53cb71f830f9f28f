"""The phone-photo generator and the benchmark around it."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont, ImageOps

from reading.decode import decode_image
from training import photo_benchmark, photo_synth
from training.photo_synth import (
    NEGATIVE_KINDS,
    PhotoSample,
    build_photo_set,
    random_style,
    render_negative,
    render_photo,
)


def _font_digits() -> tuple[np.ndarray, np.ndarray]:
    """Ten 28x28 uint8 digits, ink bright, drawn with a font: a stand-in for MNIST."""
    font = ImageFont.load_default(size=22)
    images = []
    for digit in range(10):
        canvas = Image.new("L", (28, 28), 0)
        ImageDraw.Draw(canvas).text((14, 14), str(digit), fill=255, font=font, anchor="mm")
        images.append(np.asarray(canvas))
    return np.stack(images), np.arange(10)


DIGITS = _font_digits()


def _upright(data: bytes) -> Image.Image:
    return ImageOps.exif_transpose(Image.open(io.BytesIO(data)))


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = build_photo_set("numbers", DIGITS, 3, seed=7)
    again = build_photo_set("numbers", DIGITS, 3, seed=7)
    other = build_photo_set("numbers", DIGITS, 3, seed=8)
    assert [s.data for s in first] == [s.data for s in again]
    assert [s.label for s in first] == [s.label for s in again]
    assert [s.data for s in first] != [s.data for s in other]


def test_default_seed_is_fixed_per_set() -> None:
    assert build_photo_set("mnist-single", DIGITS, 2) == build_photo_set("mnist-single", DIGITS, 2)
    assert len(set(photo_synth.DEFAULT_SEEDS.values())) == len(photo_synth.SET_NAMES)


@pytest.mark.parametrize("name", ["mnist-single", "optdigits-single", "numbers"])
def test_digit_sets_are_decodable_jpegs_with_correct_labels(name: str) -> None:
    samples = build_photo_set(name, DIGITS, 5, seed=11)
    for sample in samples:
        assert sample.data[:2] == b"\xff\xd8"  # JPEG
        image = _upright(sample.data)
        image.load()
        assert 640 <= max(image.size) <= 1280
        assert sample.label.isdigit()
        if name == "numbers":
            assert 2 <= len(sample.label) <= 4
        else:
            assert len(sample.label) == 1
        boxes = sample.meta["boxes"]
        assert len(boxes) == len(sample.label)
        for x0, y0, x1, y1 in boxes:
            assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
        lefts = [box[0] for box in boxes]
        assert lefts == sorted(lefts)  # written left to right
        gray = decode_image(sample.data)
        assert gray.ndim == 2


def test_the_ink_is_where_the_boxes_say() -> None:
    style = replace(
        random_style(np.random.default_rng(0)),
        ink="black",
        ruling="none",
        shadow=0.0,
        light_gradient=0.0,
        page_edge="",
        exif_orientation=6,
    )
    data, meta = render_photo([DIGITS[0][7]], np.random.default_rng(1), style=style)
    gray = np.asarray(_upright(data).convert("L"), dtype=np.float32)
    x0, y0, x1, y1 = meta["boxes"][0]
    inside = gray[y0:y1, x0:x1]
    outside = gray.copy()
    outside[max(0, y0 - 5) : y1 + 5, max(0, x0 - 5) : x1 + 5] = np.nan
    assert inside.min() < np.nanmin(outside) - 40  # the darkest ink lies inside the box


def test_exif_tagged_photos_display_upright() -> None:
    samples = build_photo_set("mnist-single", DIGITS, 16, seed=3)
    tagged = [s for s in samples if s.meta["style"]["exif_orientation"] != 1]
    assert tagged, "some photos carry an EXIF orientation tag"
    for sample in tagged:
        stored = Image.open(io.BytesIO(sample.data))
        assert stored.getexif().get(0x0112) in (3, 6, 8)
        style = sample.meta["style"]
        assert _upright(sample.data).size == (style["width"], style["height"])


def test_negatives_hold_no_digit() -> None:
    samples = build_photo_set("negatives", None, 6, seed=5)
    assert all(s.label == "" for s in samples)
    assert all(s.meta["kind"] in NEGATIVE_KINDS for s in samples)
    for kind in NEGATIVE_KINDS:
        data = render_negative(np.random.default_rng(9), kind=kind)
        _upright(data).load()


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError):
        build_photo_set("emnist", DIGITS, 1)
    with pytest.raises(ValueError):
        build_photo_set("numbers", None, 1)
    with pytest.raises(ValueError):
        render_photo([], np.random.default_rng(0))


def test_photo_sets_never_touch_mnist_training_digits(monkeypatch: pytest.MonkeyPatch) -> None:
    class TestDigitsOnly:
        x_test, y_test = DIGITS

        @property
        def x_train(self) -> np.ndarray:
            raise AssertionError("the photo sets must not use MNIST's training digits")

        y_train = x_train

    from training import evaluate

    monkeypatch.setattr(evaluate, "load_mnist", lambda home: TestDigitsOnly())
    monkeypatch.setattr(evaluate, "load_optdigits", lambda: DIGITS)
    sets = evaluate.photo_sets(Path("unused"), 1)
    assert set(sets) == set(photo_synth.SET_NAMES)


def test_benchmark_scores_and_table() -> None:
    sets = {
        "numbers": [PhotoSample(b"a", "12"), PhotoSample(b"b", "345")],
        "negatives": [PhotoSample(b"c", ""), PhotoSample(b"d", "")],
    }
    answers = {b"a": "12", b"b": "", b"c": "", b"d": "7"}
    scores = photo_benchmark.evaluate_photo_sets(answers.__getitem__, sets)
    assert scores["numbers"].accuracy == 0.5
    assert scores["numbers"].wrongly_rejected == 0.5
    assert scores["negatives"].accuracy == 0.5
    assert scores["negatives"].rejected == 0.5
    table = photo_benchmark.markdown_table({"ours": scores})
    assert "| numbers | 2 | 50.0 % (50.0 % said no digit) |" in table
    assert "| negatives | 2 | 50.0 % |" in table


def test_tutorial_baseline_reads_the_whole_picture_as_one_digit() -> None:
    seen = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append(batch)
        probabilities = np.zeros((len(batch), 10), dtype=np.float32)
        probabilities[:, 3] = 1.0
        return probabilities

    data, _ = render_photo([DIGITS[0][5], DIGITS[0][1]], np.random.default_rng(2))
    assert photo_benchmark.tutorial_baseline(predict)(data) == "3"
    assert seen[0].shape == (1, 28, 28)
    assert seen[0].min() >= 0.0 and seen[0].max() <= 1.0


def test_another_draw_is_new_photos_of_the_same_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    from training import evaluate

    class TestDigitsOnly:
        x_test, y_test = DIGITS

    monkeypatch.setattr(evaluate, "load_mnist", lambda home: TestDigitsOnly())
    monkeypatch.setattr(evaluate, "load_optdigits", lambda: DIGITS)
    benchmark = evaluate.photo_sets(Path("unused"), 3)
    again = evaluate.photo_sets(Path("unused"), 3, draw=0)
    other = evaluate.photo_sets(Path("unused"), 3, draw=777)
    for name in photo_synth.SET_NAMES:
        expected = photo_synth.build_photo_set(name, None if name == "negatives" else DIGITS, 3)
        assert [s.data for s in benchmark[name]] == [s.data for s in expected]
        assert [s.data for s in again[name]] == [s.data for s in expected]
        assert not {s.data for s in other[name]} & {s.data for s in expected}


@pytest.mark.parametrize("kind", ["symbol", "hatching"])
def test_training_only_negatives_render_and_leave_the_benchmark_kinds_alone(kind: str) -> None:
    from training.photo_synth import NEGATIVE_KINDS, TRAINING_ONLY_NEGATIVE_KINDS, render_negative

    assert kind in TRAINING_ONLY_NEGATIVE_KINDS and kind not in NEGATIVE_KINDS
    data = render_negative(np.random.default_rng(4), kind=kind, max_side=320)
    image = Image.open(io.BytesIO(data))
    assert max(image.size) <= 320
    assert np.asarray(image.convert("L")).std() > 1.0  # something was drawn on the paper
