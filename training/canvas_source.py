"""The canvas source for `digitbot evaluate`: digits drawn on our web page in a real Chromium.

Each MNIST test digit is turned into pen strokes (its skeleton, thinned here and walked into
polylines from its ends), and the strokes are replayed with the mouse on the page's canvas,
as a visitor draws: the page's own JavaScript paints them (its pen, round caps, white paper).
The canvas is then exported as the PNG the page would send, and read by the workers' own
`read_photo` like every other source. The page is served from the Flask app's test client
through Playwright's request routing, so no server, port or Redis is involved.

Needs the dev extra (Playwright) and a Chromium (scripts/setup-browser); `available()` says
why not when they are missing, and the table then leaves this source out with that reason.
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import cv2
import numpy as np

from training.photo_synth import PhotoSample

CANVAS_SEED = 5_550_123
CANVAS_SETS = ("drawn",)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/lib/chromium/chromium")
# The digit's skeleton is traced at this many times MNIST's resolution.
TRACE_FACTOR = 4
# Every this many skeleton pixels is a point of the stroke (one MNIST pixel).
STEP = 4
# How much of the canvas height a visitor's digit takes, at the least and at the most.
DRAWN_HEIGHT = (0.45, 0.85)
BASE_URL = "http://digitbot.invalid"


def chromium_path() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    return found or next((p for p in CHROMIUM_PATHS if shutil.which(p)), None)


def available() -> str:
    """ "" when the canvas source can run here, else why it cannot."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (scripts/setup dev)"
    if chromium_path() is None:
        return "no Chromium (scripts/setup-browser installs it)"
    return ""


def build_canvas_set(
    digits: tuple[np.ndarray, np.ndarray], n: int, *, draw: int = 0
) -> list[PhotoSample]:
    """`n` MNIST test digits drawn on the page's canvas, as the PNGs the page would send."""
    images, labels = digits
    rng = np.random.default_rng([CANVAS_SEED, draw])
    chosen = rng.choice(len(images), size=min(n, len(images)), replace=False)
    samples = []
    with _page() as page:
        box = page.locator("#pad").bounding_box()
        for index in chosen:
            strokes = digit_strokes(images[index], rng)
            page.evaluate("document.getElementById('clear').click()")
            for stroke in strokes:
                points = [
                    (box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke
                ]
                page.mouse.move(*points[0])
                page.mouse.down()
                for point in points[1:]:
                    page.mouse.move(*point)
                page.mouse.up()
            data_url = page.eval_on_selector("#pad", "pad => pad.toDataURL('image/png')")
            png = base64.b64decode(data_url.split(",", 1)[1])
            meta = {"source_indices": [int(index)], "strokes": len(strokes)}
            samples.append(PhotoSample(png, str(int(labels[index])), meta))
    return samples


def digit_strokes(digit: np.ndarray, rng: np.random.Generator) -> list[list[tuple[float, float]]]:
    """A 28x28 digit (ink bright) as pen strokes, points in fractions of a square canvas."""
    big = cv2.resize(digit, None, fx=TRACE_FACTOR, fy=TRACE_FACTOR, interpolation=cv2.INTER_CUBIC)
    skeleton = _thinned(big > 110)
    lines = _walk(skeleton)
    points = np.concatenate([np.asarray(line, np.float64) for line in lines])
    low, high = points.min(0), points.max(0)
    height = rng.uniform(*DRAWN_HEIGHT)
    extent = np.maximum(high - low, 1.0)
    scale = min(height / extent[1], 0.85 / extent[0])  # (x, y): a wide digit still fits
    size = extent * scale
    offset = np.array([rng.uniform(0.05, 0.95 - size[0]), rng.uniform(0.05, 0.95 - size[1])])
    placed = [[(p - low) * scale + offset for p in np.asarray(line)] for line in lines]
    return [[(float(x), float(y)) for x, y in line] for line in placed]


def _thinned(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide skeleton of a boolean mask (Zhang and Suen's two-step thinning, 1984)."""
    image = np.pad(mask.astype(np.uint8), 1)
    changed = True
    while changed:
        changed = False
        for step in (0, 1):
            p = [np.roll(np.roll(image, -dy, 0), -dx, 1) for dy, dx in _RING]
            neighbours = sum(p)
            transitions = sum(((p[i] == 0) & (p[(i + 1) % 8] == 1)) for i in range(8))
            # p[0]=N, p[2]=E, p[4]=S, p[6]=W
            if step == 0:
                first = p[0] * p[2] * p[4] == 0
                second = p[2] * p[4] * p[6] == 0
            else:
                first = p[0] * p[2] * p[6] == 0
                second = p[0] * p[4] * p[6] == 0
            remove = (
                (image == 1)
                & (neighbours >= 2)
                & (neighbours <= 6)
                & (transitions == 1)
                & first
                & second
            )
            if remove.any():
                image[remove] = 0
                changed = True
    return image[1:-1, 1:-1].astype(bool)


# The 8 neighbours clockwise from north, as (dy, dx).
_RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))


def _walk(skeleton: np.ndarray) -> list[list[tuple[float, float]]]:
    """The skeleton's pixels as polylines of (x, y): walked from its ends, then its loops."""
    pixels = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeleton), strict=True)}

    def neighbours(pixel: tuple[int, int]) -> list[tuple[int, int]]:
        y, x = pixel
        return [(y + dy, x + dx) for dy, dx in _RING if (y + dy, x + dx) in pixels]

    seen: set[frozenset[tuple[int, int]]] = set()
    lines: list[list[tuple[float, float]]] = []

    def trace(start: tuple[int, int]) -> None:
        line, here = [start], start
        while True:
            step = next((n for n in neighbours(here) if frozenset((here, n)) not in seen), None)
            if step is None:
                break
            seen.add(frozenset((here, step)))
            line.append(step)
            here = step
        if len(line) >= 3:
            lines.append([(float(x), float(y)) for y, x in line[::STEP] + [line[-1]]])

    ends = sorted(p for p in pixels if len(neighbours(p)) == 1)
    for start in ends:
        trace(start)
    for start in sorted(pixels):
        if any(frozenset((start, n)) not in seen for n in neighbours(start)):
            trace(start)
    if not lines:  # a dot
        y, x = next(iter(sorted(pixels))) if pixels else (56, 56)
        lines.append([(float(x), float(y)), (float(x) + 1, float(y) + 1)])
    return lines


@contextmanager
def _page() -> Iterator[Any]:
    """Our recognition page open in headless Chromium, served by the app's test client."""
    import redis
    from playwright.sync_api import sync_playwright

    from digitbot.settings import Settings
    from web.app import create_app
    from web.config import WebConfig

    # The page itself needs no Redis; the connection is never opened.
    app = create_app(
        Settings.from_env(),
        redis.Redis(host="127.0.0.1", port=1),
        config=WebConfig(),
    )
    client = app.test_client()

    def serve(route: Any) -> None:
        path = route.request.url.removeprefix(BASE_URL) or "/"
        response = client.get(path)
        route.fulfill(
            status=response.status_code,
            headers={"content-type": response.content_type},
            body=response.get_data(),
        )

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 900})
            page.route(f"{BASE_URL}/**", serve)
            page.goto(f"{BASE_URL}/")
            yield page
        finally:
            browser.close()
