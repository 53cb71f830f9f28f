"""Contact sheets of the photos a benchmark run got wrong (`digitbot evaluate --misses DIR`).

One PNG per photo set. Each tile shows, left to right:
- the source digits as the benchmark drew them (28x28, from MNIST test or optdigits);
- the part of the photo that holds them, with the marks preprocessing found boxed in red;
- the 28x28 crops the model read;

and under them "label -> answer". A miss whose photo no longer shows the source digit (an 8x8
optdigits "0" traced as a "C") is the benchmark's rendering, not the reader: the sheet is how
to tell the two apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from reading.pipeline import Reading
from reading.preprocess_mnist import to_uint8
from training.photo_synth import PhotoSample

TILE_HEIGHT = 84
CAPTION_HEIGHT = 14
TILES_PER_ROW = 3
# Around the digits' boxes, this share of the photo's short side is kept.
MARGIN = 0.06
Reader = Callable[[bytes], Reading]
# Images (N, 28, 28) uint8, ink bright, in the order the benchmark drew them from.
Source = np.ndarray


def write_miss_sheets(
    sets: Mapping[str, Sequence[PhotoSample]],
    answers: Mapping[str, Sequence[str]],
    sources: Mapping[str, Source | None],
    read: Reader,
    out_dir: Path,
) -> dict[str, tuple[Path, int]]:
    """Write `<set>.png` under `out_dir` for every set with misses; return each file written
    and how many misses it shows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, tuple[Path, int]] = {}
    for name, samples in sets.items():
        tiles = [
            miss_tile(sample, answer, sources.get(name), read(sample.data))
            for sample, answer in zip(samples, answers[name], strict=True)
            if answer != sample.label
        ]
        if tiles:
            path = out_dir / f"{name}.png"
            contact_sheet(tiles).save(path)
            written[name] = (path, len(tiles))
    return written


def miss_tile(
    sample: PhotoSample, answer: str, source: Source | None, reading: Reading
) -> Image.Image:
    """One missed photo: source digits | photo around them | model crops, and a caption."""
    pre = reading.preprocessed
    parts = (
        [_digit(source[i]) for i in sample.meta.get("source_indices", [])]
        if source is not None
        else []
    )
    parts.append(_photo_part(sample, pre.stages.get("gray"), pre.boxes, pre.image_size))
    parts.extend(_digit(to_uint8(crop)) for crop in pre.crops)
    width = sum(p.width for p in parts) + 2 * (len(parts) - 1)
    tile = Image.new("RGB", (width, TILE_HEIGHT + CAPTION_HEIGHT), "white")
    x = 0
    for part in parts:
        tile.paste(part.convert("RGB"), (x, 0))
        x += part.width + 2
    caption = f"{sample.label or 'none'} -> {answer or 'no digit'}"
    ImageDraw.Draw(tile).text((2, TILE_HEIGHT + 1), caption, fill="black")
    return tile


def contact_sheet(tiles: Sequence[Image.Image]) -> Image.Image:
    """Tiles in rows of TILES_PER_ROW, each row as wide as its tiles."""
    rows = [tiles[i : i + TILES_PER_ROW] for i in range(0, len(tiles), TILES_PER_ROW)]
    width = max(sum(t.width for t in row) + 8 * (len(row) - 1) for row in rows)
    height = len(rows) * (TILE_HEIGHT + CAPTION_HEIGHT + 8)
    sheet = Image.new("RGB", (width, height), (200, 200, 200))
    for r, row in enumerate(rows):
        x = 0
        for tile in row:
            sheet.paste(tile, (x, r * (TILE_HEIGHT + CAPTION_HEIGHT + 8)))
            x += tile.width + 8
    return sheet


def _digit(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.asarray(image, np.uint8)).resize((TILE_HEIGHT, TILE_HEIGHT))


def _photo_part(
    sample: PhotoSample,
    gray: np.ndarray | None,
    found: Sequence[tuple[int, int, int, int]],
    image_size: tuple[int, int],
) -> Image.Image:
    """The photo (as preprocessing saw it) cut to the drawn digits and the marks found."""
    if gray is None:  # not even decodable
        return Image.new("L", (TILE_HEIGHT, TILE_HEIGHT), 0)
    photo = Image.fromarray(gray).convert("RGB")
    drawn = sample.meta.get("boxes", [])
    frame = sample.meta.get("style", {})
    scale = image_size[0] / frame["width"] if frame.get("width") else 1.0
    boxes = [tuple(v * scale for v in box) for box in drawn] + [tuple(b) for b in found]
    draw = ImageDraw.Draw(photo)
    for box in found:
        draw.rectangle(box, outline=(255, 0, 0), width=2)
    if boxes:
        margin = MARGIN * min(image_size)
        left = max(0.0, min(b[0] for b in boxes) - margin)
        top = max(0.0, min(b[1] for b in boxes) - margin)
        right = min(image_size[0], max(b[2] for b in boxes) + margin)
        bottom = min(image_size[1], max(b[3] for b in boxes) + margin)
        photo = photo.crop((int(left), int(top), int(right), int(bottom)))
    width = max(1, round(photo.width * TILE_HEIGHT / photo.height))
    return photo.resize((min(width, 4 * TILE_HEIGHT), TILE_HEIGHT))
