"""The "how I read it" picture: the photo with a labelled box per digit, the 28×28 inputs the
model saw, and a bar chart of the class probabilities for each digit. Pure: arrays in, PNG out."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from reading.preprocess_mnist import to_uint8
from reading.recognize import Recognition

PHOTO_WIDTH = 640
INPUT_SCALE = 4  # 28 px -> 112 px
BAR_WIDTH = 22
BAR_HEIGHT = 90
ROW_PADDING = 12
BOX_COLOUR = (220, 40, 40)
BAR_COLOUR = (70, 110, 200)
BEST_COLOUR = (220, 40, 40)
BACKGROUND = (255, 255, 255)
TEXT_COLOUR = (20, 20, 20)


def render_explanation(
    gray: np.ndarray,
    crops: np.ndarray,
    boxes: list[tuple[int, int, int, int]],
    result: Recognition,
    *,
    caption: str = "",
) -> bytes:
    """Draw the explanation as a PNG. `gray` is the decoded photo (H, W) in [0,1] or 0..255."""
    font = ImageFont.load_default(size=16)
    small = ImageFont.load_default(size=12)
    photo = _photo_with_boxes(gray, result, font)
    rows = [
        _digit_row(crop, _probabilities_for(result, box), small)
        for crop, box in zip(crops, boxes, strict=True)
    ]
    width = max([photo.width, *(r.width for r in rows)]) + 2 * ROW_PADDING
    header = 30
    height = header + photo.height + sum(r.height + ROW_PADDING for r in rows) + 2 * ROW_PADDING
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    title = caption or (f"Read: {result.text}" if result.text else "No digit found")
    draw.text((ROW_PADDING, 6), title, fill=TEXT_COLOUR, font=font)
    canvas.paste(photo, (ROW_PADDING, header))
    y = header + photo.height + ROW_PADDING
    for row in rows:
        canvas.paste(row, (ROW_PADDING, y))
        y += row.height + ROW_PADDING
    out = io.BytesIO()
    canvas.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _photo_with_boxes(
    gray: np.ndarray, result: Recognition, font: ImageFont.ImageFont | ImageFont.FreeTypeFont
) -> Image.Image:
    pixels = np.asarray(gray, dtype=np.float32)
    if pixels.max(initial=0) <= 1.0:
        pixels = pixels * 255
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).convert("RGB")
    scale = PHOTO_WIDTH / image.width
    image = image.resize(
        (PHOTO_WIDTH, max(1, round(image.height * scale))), Image.Resampling.BILINEAR
    )
    draw = ImageDraw.Draw(image)
    for guess in result.digits:
        x0, y0, x1, y1 = (round(v * scale) for v in guess.box)
        draw.rectangle((x0, y0, x1, y1), outline=BOX_COLOUR, width=3)
        label = f"{guess.digit} {guess.confidence * 100:.0f}%"
        draw.rectangle(
            (x0, max(0, y0 - 20), x0 + 8 + 9 * len(label), max(0, y0 - 20) + 20), fill=BOX_COLOUR
        )
        draw.text((x0 + 4, max(0, y0 - 19)), label, fill=(255, 255, 255), font=font)
    return image


def _digit_row(
    crop: np.ndarray,
    probabilities: np.ndarray,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> Image.Image:
    side = 28 * INPUT_SCALE
    width = side + 20 + 10 * (BAR_WIDTH + 4)
    row = Image.new("RGB", (width, side + 18), BACKGROUND)
    model_input = Image.fromarray(to_uint8(crop))
    row.paste(model_input.resize((side, side), Image.Resampling.NEAREST).convert("RGB"), (0, 0))
    draw = ImageDraw.Draw(row)
    best = int(np.argmax(probabilities)) if probabilities.any() else -1
    left = side + 20
    for digit, p in enumerate(probabilities):
        x = left + digit * (BAR_WIDTH + 4)
        bar = round(float(p) * BAR_HEIGHT)
        colour = BEST_COLOUR if digit == best else BAR_COLOUR
        draw.rectangle((x, side - bar, x + BAR_WIDTH, side), fill=colour)
        draw.text((x + 7, side + 2), str(digit), fill=TEXT_COLOUR, font=font)
    return row


def _probabilities_for(result: Recognition, box: tuple[int, int, int, int]) -> np.ndarray:
    """The digit probabilities of the crop at `box`; zeros for a crop read as "not a digit"."""
    for guess in result.digits:
        if tuple(guess.box) == tuple(box):
            return np.asarray(guess.probabilities, dtype=np.float32)
    return np.zeros(10, dtype=np.float32)
