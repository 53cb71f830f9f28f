"""Photo -> MNIST-style crops, on pictures drawn here: paper, ink, lines, shadows, rotations."""

from __future__ import annotations

import io

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from reading.preprocess import Preprocessed, preprocess, preprocess_array, to_mnist
from reading.preprocess_mnist import stroke_width, to_uint8

# Digits as polylines in a unit box (x right, y down).
ONE = [[(0.5, 0.0), (0.5, 1.0)]]
SEVEN = [[(0.05, 0.0), (0.95, 0.0), (0.35, 1.0)]]
ZERO = [[(0.5 + 0.45 * np.sin(t), 0.5 - 0.5 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]]
# A 4 whose strokes do not touch: the slanted stroke with the bar, and the upright stroke in
# two pieces, interrupted where it would cross the bar.
FOUR_APART = [
    [(0.55, 0.0), (0.05, 0.65), (0.95, 0.65)],
    [(0.72, 0.1), (0.72, 0.55)],
    [(0.72, 0.76), (0.72, 1.0)],
]
# A 5 whose top bar was written separately and does not touch the body.
FIVE_GAP = [
    [(0.25, 0.0), (0.9, 0.0)],
    [(0.2, 0.14), (0.15, 0.45), (0.5, 0.38), (0.85, 0.55), (0.85, 0.8), (0.5, 0.98), (0.12, 0.88)],
]


def draw(
    digits: list[tuple[list[list[tuple[float, float]]], tuple[int, int, int, int]]],
    *,
    size: tuple[int, int] = (640, 480),
    paper: int = 225,
    ink: int = 35,
    width: int = 7,
    rules: int = 0,
) -> Image.Image:
    """Paper of `size` with each digit's strokes drawn into its box (x0, y0, x1, y1)."""
    image = Image.new("L", size, paper)
    pen = ImageDraw.Draw(image)
    if rules:
        for y in range(rules // 2, size[1], rules):
            pen.line([(0, y), (size[0], y + 12)], fill=paper - 60, width=2)
    for strokes, (x0, y0, x1, y1) in digits:
        for stroke in strokes:
            points = [(x0 + x * (x1 - x0), y0 + y * (y1 - y0)) for x, y in stroke]
            pen.line(points, fill=ink, width=width, joint="curve")
    return image


def jpeg(image: Image.Image | np.ndarray, quality: int = 90, **options: object) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **options)
    return buffer.getvalue()


def heic(image: Image.Image | np.ndarray, quality: int = 90) -> bytes:
    """The photo as an iPhone sends it as a file."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image.convert("RGB")).save(buffer, quality=quality)
    return buffer.getvalue()


def photo_like(image: Image.Image, *, seed: int = 0, shadow: bool = False) -> np.ndarray:
    """Uneven light, optionally a soft shadow over the right half, and sensor noise."""
    rng = np.random.default_rng(seed)
    array = np.asarray(image, dtype=np.float32)
    height, width = array.shape
    light = np.linspace(1.0, 0.55, width, dtype=np.float32)[None, :]
    light = light * np.linspace(0.9, 1.0, height, dtype=np.float32)[:, None]
    if shadow:
        region = np.zeros((height, width), dtype=np.float32)
        region[:, width // 2 :] = 1.0
        light = light * (1.0 - 0.45 * ndi.gaussian_filter(region, 12))
    return array * light + rng.normal(0, 4, size=array.shape)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Likeness of two crops, forgiving a shift of a pixel (strokes are only 2-3 px wide)."""
    a, b = ndi.gaussian_filter(a, 1.0), ndi.gaussian_filter(b, 1.0)
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def assert_mnist_like(result: Preprocessed) -> None:
    crops = result.crops
    assert crops.dtype == np.float32
    assert crops.shape[1:] == (28, 28)
    assert len(result.boxes) == crops.shape[0]
    for crop in crops:
        assert float(crop.min()) >= 0.0 and float(crop.max()) == pytest.approx(1.0)
        assert crop.mean() < 0.4  # ink is bright on a dark field
        centre_y, centre_x = ndi.center_of_mass(crop)
        assert abs(centre_y - 14) <= 1.0 and abs(centre_x - 14) <= 1.0
        rows = np.flatnonzero((crop > 0.1).any(axis=1))
        cols = np.flatnonzero((crop > 0.1).any(axis=0))
        height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
        assert max(height, width) in (19, 20, 21)
        assert min(height, width) <= 21
        assert stroke_width(crop > 0.5) == pytest.approx(2.6, abs=1.2)


def test_single_digit_gives_one_mnist_like_crop() -> None:
    result = preprocess(jpeg(draw([(SEVEN, (260, 120, 380, 330))])))
    assert result.reason == ""
    assert len(result.boxes) == 1
    assert_mnist_like(result)
    x0, y0, x1, y1 = result.boxes[0]
    assert abs(x0 - 260) < 12 and abs(y0 - 120) < 12 and abs(x1 - 380) < 12 and abs(y1 - 330) < 12
    assert result.image_size == (640, 480)
    for name in ("gray", "flattened", "binary"):
        assert result.stages[name].dtype == np.uint8
        assert result.stages[name].shape == (480, 640)


def test_dark_ink_and_chalk_give_the_same_crop() -> None:
    digit = [(SEVEN, (260, 120, 380, 330))]
    on_paper = preprocess(jpeg(photo_like(draw(digit, paper=225, ink=35))))
    on_board = preprocess(jpeg(photo_like(draw(digit, paper=45, ink=215))))
    assert len(on_paper.boxes) == len(on_board.boxes) == 1
    assert correlation(on_paper.crops[0], on_board.crops[0]) > 0.95


def test_heic_photo_gives_the_same_crop_as_the_jpeg() -> None:
    photo = photo_like(draw([(SEVEN, (260, 120, 380, 330))]))
    from_heic, from_jpeg = preprocess(heic(photo)), preprocess(jpeg(photo))
    assert from_heic.reason == "" and len(from_heic.boxes) == 1
    assert_mnist_like(from_heic)
    assert from_heic.image_size == (640, 480)
    assert correlation(from_heic.crops[0], from_jpeg.crops[0]) > 0.95
    assert np.allclose(from_heic.boxes[0], from_jpeg.boxes[0], atol=3)


@pytest.mark.parametrize(
    ("orientation", "stored_turn"),
    [
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
        (3, Image.Transpose.ROTATE_180),
    ],
)
def test_exif_rotated_photo_gives_the_upright_crop(
    orientation: int, stored_turn: Image.Transpose
) -> None:
    upright = draw([(SEVEN, (260, 120, 380, 330))])
    exif = Image.Exif()
    exif[0x0112] = orientation
    turned = preprocess(jpeg(upright.transpose(stored_turn), exif=exif.tobytes()))
    straight = preprocess(jpeg(upright))
    assert turned.image_size == straight.image_size == (640, 480)
    assert len(turned.boxes) == 1
    assert correlation(turned.crops[0], straight.crops[0]) > 0.9
    # ...which a sideways 7 would not be.
    assert correlation(turned.crops[0], np.rot90(straight.crops[0])) < 0.6
    assert np.allclose(turned.boxes[0], straight.boxes[0], atol=4)


def test_ruled_paper_lines_are_removed_and_the_digit_stays() -> None:
    clean = preprocess(jpeg(draw([(SEVEN, (260, 120, 380, 330))])))
    ruled = preprocess(jpeg(photo_like(draw([(SEVEN, (260, 120, 380, 330))], rules=32))))
    assert ruled.reason == ""
    assert len(ruled.boxes) == 1
    binary = ruled.stages["binary"] > 0
    outside = binary.copy()
    x0, y0, x1, y1 = ruled.boxes[0]
    outside[y0:y1, x0:x1] = False
    assert outside.mean() < 0.002  # the rules are gone, not just skipped
    assert correlation(ruled.crops[0], clean.crops[0]) > 0.8


def test_shadow_and_gradient_still_give_one_digit() -> None:
    clean = preprocess(jpeg(draw([(ZERO, (250, 100, 390, 330))])))
    shaded = preprocess(jpeg(photo_like(draw([(ZERO, (250, 100, 390, 330))]), shadow=True)))
    assert len(shaded.boxes) == 1
    assert correlation(shaded.crops[0], clean.crops[0]) > 0.85


def test_grid_line_remnants_beside_a_digit_are_not_digits() -> None:
    image = draw([(SEVEN, (260, 150, 360, 300))], width=9)
    pen = ImageDraw.Draw(image)
    # What line removal leaves of a grid under a shadow: thin pieces as tall as the digit,
    # each at its own place and tilt (so that they are no ruled line).
    for x, y, slant in ((90, 40, 0.1), (140, 190, -0.05), (60, 340, 0.15), (520, 50, 0.0)):
        pen.line([(x, y), (x + 120 * slant, y + 120)], fill=110, width=2)
    for x, y, slant in ((560, 200, 0.12), (490, 330, -0.1)):
        pen.line([(x, y), (x + 120 * slant, y + 120)], fill=110, width=2)
    result = preprocess(jpeg(photo_like(image)))
    assert result.reason == ""
    assert len(result.boxes) == 1
    x0, y0, x1, y1 = result.boxes[0]
    assert abs(x0 - 260) < 12 and abs(x1 - 360) < 12


def test_soft_edged_shadow_beside_a_digit_is_not_a_digit() -> None:
    image = np.asarray(draw([(ZERO, (150, 140, 260, 330))], width=8), dtype=np.float32)
    # The shadow of a pen lying beside the digit: a narrow band, dark but with blurred edges.
    band = np.zeros_like(image)
    band[195:285, 392:408] = 1.0
    shade = 1.0 - 0.35 * ndi.gaussian_filter(band, 2.0)
    noise = np.random.default_rng(0).normal(0, 3, size=image.shape)
    result = preprocess(jpeg(image * shade + noise))
    assert len(result.boxes) == 1
    assert result.boxes[0][2] < 300  # the zero, not the shadow


@pytest.mark.parametrize("side", ["right", "above-left"])
def test_a_speck_of_dust_beside_a_digit_stays_out_of_its_crop(side: str) -> None:
    box = (250, 110, 390, 340)
    clean = preprocess(jpeg(photo_like(draw([(ZERO, box)]))))
    image = draw([(ZERO, box)])
    # A dot of dust close enough to count as a piece of the digit, but outside its box.
    x, y = (box[2] + 22, 300) if side == "right" else (box[0] - 20, box[1] - 18)
    ImageDraw.Draw(image).ellipse([x - 5, y - 5, x + 5, y + 5], fill=35)
    dusty = preprocess(jpeg(photo_like(image)))
    assert len(dusty.boxes) == 1
    assert dusty.boxes[0] == pytest.approx(clean.boxes[0], abs=3)
    assert correlation(dusty.crops[0], clean.crops[0]) > 0.95


@pytest.mark.parametrize("strokes", [FOUR_APART, FIVE_GAP], ids=["four-apart", "five-gap"])
def test_digit_in_separate_strokes_is_one_crop(strokes: list[list[tuple[float, float]]]) -> None:
    image = draw([(strokes, (250, 110, 390, 340))])
    array = np.asarray(image) > 128
    _, pieces = ndi.label(~array, structure=np.ones((3, 3)))
    assert pieces >= 2  # the drawing really is in separate pieces
    result = preprocess(jpeg(photo_like(image)))
    assert len(result.boxes) == 1
    assert_mnist_like(result)


def test_number_comes_out_left_to_right() -> None:
    # Drawn in the order 1, 7, 0 but placed 7, 0, 1 from left to right.
    image = draw(
        [
            (ONE, (470, 150, 510, 330)),
            (SEVEN, (90, 150, 210, 330)),
            (ZERO, (270, 150, 400, 330)),
        ]
    )
    result = preprocess(jpeg(photo_like(image)))
    assert len(result.boxes) == 3
    centres = [(x0 + x1) / 2 for x0, _, x1, _ in result.boxes]
    assert centres == sorted(centres)
    assert np.allclose(centres, [150, 335, 490], atol=15)
    assert_mnist_like(result)
    one, seven, zero = result.crops[2], result.crops[0], result.crops[1]
    assert (one > 0.5).sum() < (seven > 0.5).sum() < (zero > 0.5).sum()


def test_blank_paper_has_no_digit() -> None:
    result = preprocess(jpeg(photo_like(Image.new("L", (640, 480), 215), shadow=True)))
    assert result.crops.shape == (0, 28, 28)
    assert result.boxes == []
    assert result.reason != ""


def test_ruled_paper_alone_has_no_digit() -> None:
    result = preprocess(jpeg(photo_like(draw([], rules=30))))
    assert result.crops.shape[0] == 0 and result.reason != ""


def test_a_dash_is_not_a_digit() -> None:
    dash = [[(0.0, 0.5), (1.0, 0.52)]]
    result = preprocess(jpeg(photo_like(draw([(dash, (250, 230, 390, 250))]))))
    assert result.crops.shape[0] == 0 and result.reason != ""


def test_a_dot_is_not_a_digit() -> None:
    image = Image.new("L", (640, 480), 220)
    ImageDraw.Draw(image).ellipse((300, 220, 316, 236), fill=30)
    result = preprocess(jpeg(photo_like(image)))
    assert result.crops.shape[0] == 0 and result.reason != ""


def test_pure_noise_is_not_a_digit() -> None:
    rng = np.random.default_rng(5)
    noise = rng.uniform(0, 255, size=(480, 640))
    result = preprocess(jpeg(noise))
    assert result.crops.shape[0] == 0 and result.reason != ""


def test_page_of_text_is_too_many() -> None:
    digits = []
    for row in range(6):
        for col in range(10):
            digits.append(
                (
                    SEVEN if (row + col) % 2 else ONE,
                    (30 + col * 60, 30 + row * 75, 60 + col * 60, 85 + row * 75),
                )
            )
    result = preprocess(jpeg(draw(digits, width=3)))
    assert result.crops.shape[0] == 0
    assert result.reason == "too-many-components"


def test_tiny_image_is_too_small() -> None:
    result = preprocess(jpeg(Image.new("L", (8, 8), 200)))
    assert result.crops.shape[0] == 0 and result.reason == "too-small"
    assert result.image_size == (8, 8)


def test_huge_photo_is_read() -> None:
    image = draw([(SEVEN, (2000, 800, 2800, 2300))], size=(6000, 4000), width=40)
    result = preprocess(jpeg(image, quality=80))
    assert len(result.boxes) == 1
    width, height = result.image_size
    assert max(width, height) <= 1024
    x0, y0, x1, y1 = result.boxes[0]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


def test_canvas_array_either_polarity() -> None:
    canvas = np.zeros((280, 280), dtype=np.float32)
    image = Image.fromarray(canvas)
    ImageDraw.Draw(image).line([(80, 50), (200, 50), (120, 230)], fill=1.0, width=18)
    white_on_black = np.asarray(image)
    for array in (white_on_black, 1.0 - white_on_black):
        result = preprocess_array(array)
        assert len(result.boxes) == 1
        assert result.image_size == (280, 280)
        assert result.stages["binary"].shape == (280, 280)  # the boxes' coordinates
        x0, y0, x1, y1 = result.boxes[0]
        assert result.stages["binary"][y0:y1, x0:x1].any()
        assert_mnist_like(result)


def test_thin_and_thick_pens_come_out_alike() -> None:
    thin = np.asarray(draw([(ZERO, (100, 40, 400, 440))], size=(500, 480), width=3)) < 128
    thick = np.asarray(draw([(ZERO, (100, 40, 400, 440))], size=(500, 480), width=45)) < 128
    thin_crop, thick_crop = to_mnist(thin), to_mnist(thick)
    assert abs(stroke_width(thin_crop > 0.5) - stroke_width(thick_crop > 0.5)) < 1.0
    assert correlation(thin_crop, thick_crop) > 0.8


def test_to_mnist_of_nothing_is_blank() -> None:
    crop = to_mnist(np.zeros((30, 30), dtype=bool))
    assert crop.shape == (28, 28) and crop.dtype == np.float32 and crop.max() == 0.0


def test_crops_become_uint8_rounded_and_clipped() -> None:
    crops = np.array([[-0.2, 0.0, 0.304], [0.5, 0.999, 1.4]], dtype=np.float32)  # 77.52: 78
    np.testing.assert_array_equal(to_uint8(crops), [[0, 0, 78], [128, 255, 255]])
    assert to_uint8(crops).dtype == np.uint8
