"""The web page in a real headless Chromium against the real stack: redis-server, the web server
(`python -m web`) and an RQ worker process with the shipped model.

Chromium is Debian's package (scripts/setup-browser installs it when missing); these tests skip
only when it cannot be installed. Screenshots land in test-artifacts/screenshots/, and the page
with an answer and the status view are also copied to docs/screenshots/ for the README.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from PIL import Image, ImageDraw, ImageFilter

from digitbot import defaults, keys, texts
from digitbot.errors import NotAnImageError
from digitbot.feedback import FeedbackStore
from digitbot.redis_server import EmbeddedRedis, free_port
from digitbot.registry import ModelRegistry
from tests.support.processes import REPO_ROOT, ManagedProcess, wait_until
from tests.web.conftest import OPERATOR_PASSWORD, OPERATOR_USER
from web.visitors import VISITOR_COOKIE, visitor_hash

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
DRAWINGS_DIR = REPO_ROOT / "test-artifacts" / "web"
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
SHIPPED_MODEL = REPO_ROOT / "digitbot" / "models" / "champion.keras"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ANSWER_TIMEOUT_MS = 30_000


@dataclass
class WebStack:
    base_url: str
    redis_url: str
    env: dict[str, str]
    log_dir: Path
    web: ManagedProcess

    def connection(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Chromium's path, installed by scripts/setup-browser if needed."""
    completed = subprocess.run(
        [str(REPO_ROOT / "scripts" / "setup-browser")],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if completed.returncode != 0:
        pytest.skip(f"chromium cannot be installed here: {completed.stderr.strip()[-500:]}")
    return completed.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is missing: install the dev extra (scripts/setup dev).")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def web_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:
    """Its own redis-server (the shared one is flushed per test) and the web server."""
    base = tmp_path_factory.mktemp("web-stack")
    server = EmbeddedRedis(base / "redis").start()
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": server.url,
        "DIGITBOT_HOME": str(base / "home"),
        "DIGITBOT_WEB_USER": OPERATOR_USER,
        "DIGITBOT_WEB_PASSWORD": OPERATOR_PASSWORD,
        "DIGITBOT_WEB_TRUSTED_PROXY": "127.0.0.1",  # the tests play the reverse proxy
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "web", "--host", "127.0.0.1", "--port", str(port)]
    web = ManagedProcess("web", command, env, base).start()
    stack = WebStack(f"http://127.0.0.1:{port}", server.url, env, base, web)
    try:
        assert wait_until(lambda: _healthy(stack.base_url), timeout=30), web.log()[-3000:]
        yield stack
    finally:
        stopped_with = web.stop()
        server.stop()
    assert stopped_with == 0, (
        f"the web server did not stop cleanly on SIGTERM:\n{web.log()[-2000:]}"
    )


@pytest.fixture(scope="module")
def worker(web_stack: WebStack) -> Iterator[ManagedProcess]:
    """A real recognition worker with the shipped model."""
    model = Path(os.environ.get("DIGITBOT_MODEL_PATH") or SHIPPED_MODEL)  # as reading.model does
    assert model.exists(), f"no model at {model}: train the shipped model first"
    command = [
        sys.executable, "-m", "worker.rq_worker", "--name", "test-worker",
        "--queues", "recognition",
    ]  # fmt: skip
    process = ManagedProcess("worker", command, web_stack.env, web_stack.log_dir).start()
    try:
        process.wait_for_log("ready with model", timeout=120)
        yield process
    finally:
        process.stop()


@pytest.fixture()
def page(browser: Any, web_stack: WebStack) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 760})
    opened = context.new_page()
    yield opened
    context.close()


# Strokes as the mouse draws them, in fractions of the canvas: a plain "1", and a "7" drawn the
# usual way on a canvas, one stroke with a level top bar half the canvas wide.
DRAWINGS = {
    "1": [[(0.52, 0.18), (0.47, 0.82)]],
    "7": [[(0.28, 0.24), (0.72, 0.24), (0.42, 0.82)]],
}


@pytest.mark.parametrize("digit", list(DRAWINGS))
def test_drawing_a_digit_with_the_mouse_shows_the_answer(
    page: Any, web_stack: WebStack, worker: ManagedProcess, digit: str
) -> None:
    from playwright.sync_api import expect

    page.goto(web_stack.base_url)
    box = page.locator("#pad").bounding_box()

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    for stroke in DRAWINGS[digit]:
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*at(*point), steps=14)
        page.mouse.up()
    expect(page.locator("#undo")).to_be_enabled()
    _save_drawing(page, f"canvas-{digit}.png")  # what is sent, to replay through the pipeline
    page.click("#send")

    expect(page.locator("#answer-box")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#answer")).to_have_text(_starts_with(digit), timeout=1000)
    expect(page.locator("#confidence")).to_have_text(_ends_with("%"))
    expect(page.locator(".digit .bar")).to_have_count(10)
    expect(page.locator(".digit .bar.best .label")).to_have_text(digit)
    expect(page.locator("#sent-photo")).to_be_hidden()  # only uploads show the photo sent
    # The 28x28 input the model saw is drawn, and holds ink.
    ink = page.eval_on_selector(
        ".model-input",
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".reduce((sum, v, i) => (i % 4 === 0 ? sum + v : sum), 0)",
    )
    assert ink > 28 * 255, "the model-input canvas is blank"
    # The README shows the last drawing that was read right (the 7 when it is).
    _screenshot(page, f"page-drawn-{digit}.png", docs_name="page.png")
    _correct_the_answer(page, web_stack, digit)


def _correct_the_answer(page: Any, web_stack: WebStack, digit: str) -> None:
    """Press "✏️ correct it", pick another digit: the page says what was recorded, and the
    store holds it under this browser's visitor hash."""
    from playwright.sync_api import expect

    store = FeedbackStore(web_stack.connection())
    known = {s.sample_id for s in store.samples()}
    page.get_by_role("button", name="✏️ correct it").click()
    wrong = str((int(digit) + 1) % 10)
    page.locator("#positions").get_by_role("button", name=wrong, exact=True).click()
    note = page.locator("#feedback-note")
    expect(note).to_be_visible()
    [sample] = [s for s in store.samples() if s.sample_id not in known]
    assert (sample.label, sample.predicted, sample.kind) == (wrong, digit, "corrected")
    said = texts.HELD_CORRECTION if sample.status == "held" else texts.RECORDED_CORRECTION
    expect(note).to_have_text(said.format(label=wrong))
    expect(page.get_by_role("button", name="✏️ correct it")).to_be_hidden()
    [cookie] = [c for c in page.context.cookies() if c["name"] == VISITOR_COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert sample.user_hash == visitor_hash(web_stack.connection(), cookie["value"])
    _screenshot(page, f"page-corrected-{digit}.png")


def test_uploading_a_photo_of_paper_shows_the_answer(
    page: Any, web_stack: WebStack, worker: ManagedProcess, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    photo = tmp_path / "four-on-paper.jpg"
    photo.write_bytes(paper_photo_of_a_four())
    page.goto(web_stack.base_url)
    page.set_input_files("#file", str(photo))
    expect(page.locator("#answer")).to_have_text(_starts_with("4"), timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(".model-input")).not_to_have_count(0)
    expect(page.locator("#sent-photo")).to_be_visible()
    _screenshot(page, "page-uploaded-4.png")


def test_a_file_that_is_not_an_image_shows_a_clear_error(
    page: Any, web_stack: WebStack, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    notes = tmp_path / "notes.txt"
    notes.write_text("this is not a photo")
    page.goto(web_stack.base_url)
    page.set_input_files("#file", str(notes))
    expect(page.locator("#error")).to_have_text(NotAnImageError.user_message)
    expect(page.locator("#answer-box")).to_be_hidden()


def test_a_file_over_the_limit_is_refused_by_the_page_before_it_is_sent(
    page: Any, web_stack: WebStack, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    huge = tmp_path / "huge.png"
    huge.write_bytes(b"\x89PNG" + b"\0" * defaults.MAX_DOWNLOAD_BYTES)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/recognize" in r.url else None)
    page.goto(web_stack.base_url)
    page.set_input_files("#file", str(huge))
    expect(page.locator("#error")).to_have_text(texts.IMAGE_TOO_LARGE)
    assert sent == []


def test_drawing_with_a_finger_on_a_phone_never_scrolls_the_page(
    browser: Any, web_stack: WebStack
) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 740}, device_scale_factor=2,
        is_mobile=True, has_touch=True,
    )  # fmt: skip
    try:
        phone = context.new_page()
        phone.goto(web_stack.base_url)
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert phone.eval_on_selector("#pad", "c => getComputedStyle(c).touchAction") == "none"
        phone.evaluate("window.scrollTo(0, 120)")
        scrolled = phone.evaluate("window.scrollY")
        assert scrolled > 0, "the phone page should be taller than the screen"
        box = phone.locator("#pad").bounding_box()
        x = box["x"] + box["width"] / 2
        cdp = context.new_cdp_session(phone)
        # A finger swiping up the canvas: on an ordinary element this scrolls the page.
        points = [box["y"] + box["height"] * f for f in (0.85, 0.7, 0.55, 0.4, 0.25)]
        cdp.send(
            "Input.dispatchTouchEvent",
            {"type": "touchStart", "touchPoints": [{"x": x, "y": points[0]}]},
        )
        for y in points[1:]:
            cdp.send(
                "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
            )
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        phone.wait_for_timeout(200)
        assert phone.evaluate("window.scrollY") == scrolled
        assert phone.locator("#undo").is_enabled(), "the touch stroke was not drawn"
        _screenshot(phone, "phone-touch-stroke.png")
    finally:
        context.close()


def test_operators_log_in_to_see_status_and_the_rq_dashboard(
    browser: Any, web_stack: WebStack
) -> None:
    from playwright.sync_api import expect

    anonymous = browser.new_context()
    try:
        for path in ("/status", "/rq/"):
            assert anonymous.request.get(f"{web_stack.base_url}{path}").status == 401
        with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
            anonymous.new_page().goto(f"{web_stack.base_url}/status")
    finally:
        anonymous.close()

    ModelRegistry(web_stack.connection()).publish(
        b"not a real model",
        {"version": "20261120-candidate", "arch": "digitnet-wide", "test_accuracy": 0.9958},
    )
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        http_credentials={"username": OPERATOR_USER, "password": OPERATOR_PASSWORD},
    )
    try:
        status = context.new_page()
        status.goto(f"{web_stack.base_url}/status")
        models = status.locator("#models table")
        expect(models).to_contain_text("20261120-candidate")
        expect(models).to_contain_text("99.58%")
        expect(status.locator("#queues")).to_contain_text("recognition")
        expect(status.locator("#queues")).to_contain_text("training")
        _screenshot(status, "status.png", docs_name="status.png")

        status.click("#retrain")
        expect(status.locator("#retrain-message")).to_have_text(texts.RETRAIN_QUEUED_ON_PAGE)
        status.click("#retrain")
        expect(status.locator("#retrain-message")).to_have_text(
            texts.RETRAIN_ALREADY.format(status="queued")
        )

        dashboard = context.new_page()
        dashboard.goto(f"{web_stack.base_url}/rq/")
        expect(dashboard.locator("body")).to_contain_text("training", timeout=10_000)
        _screenshot(dashboard, "rq-dashboard.png")
        # The dashboard reads our JSON-serialized jobs: the retraining just asked for is listed.
        dashboard.goto(f"{web_stack.base_url}/rq/0/view/jobs/training/queued/8/asc/1")
        expect(dashboard.locator("body")).to_contain_text(keys.RETRAIN_JOB_ID, timeout=10_000)
    finally:
        context.close()


def test_rate_limits_count_the_client_named_by_the_trusted_proxy(web_stack: WebStack) -> None:
    request = urllib.request.Request(
        f"{web_stack.base_url}/api/recognize",
        data=b"not an image",
        headers={"X-Forwarded-For": "203.0.113.7", "Content-Type": "application/octet-stream"},
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 400
    counted = [key.decode() for key in web_stack.connection().scan_iter("digitbot:rate:*")]
    assert any(":203.0.113.7:" in key for key in counted), counted


def paper_photo_of_a_four(width: int = 960, height: int = 1280) -> bytes:
    """A phone-like photo: a dark handwritten-looking 4 on slightly uneven, noisy paper."""
    rng = np.random.default_rng(4)
    shade = np.linspace(0.92, 0.8, height)[:, None] * np.linspace(0.95, 1.0, width)[None, :]
    paper = np.stack([shade * 238, shade * 232, shade * 218], axis=-1)
    paper += rng.normal(0, 4, paper.shape)
    image = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    pen = dict(fill=(38, 40, 52), width=int(width * 0.035), joint="curve")
    left, top, w, h = width * 0.33, height * 0.3, width * 0.34, height * 0.38
    draw.line([(left + 0.55 * w, top), (left, top + 0.62 * h), (left + w, top + 0.62 * h)], **pen)
    draw.line([(left + 0.72 * w, top + 0.25 * h), (left + 0.7 * w, top + h)], **pen)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def _healthy(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _save_drawing(page: Any, name: str) -> None:
    data_url = page.eval_on_selector("#pad", "canvas => canvas.toDataURL('image/png')")
    DRAWINGS_DIR.mkdir(parents=True, exist_ok=True)
    (DRAWINGS_DIR / name).write_bytes(base64.b64decode(data_url.split(",", 1)[1]))


def _screenshot(page: Any, name: str, *, docs_name: str | None = None) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=True)
    if docs_name:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOTS / docs_name)


def _starts_with(prefix: str) -> Any:
    import re

    return re.compile(rf"^\s*{re.escape(prefix)}")


def _ends_with(suffix: str) -> Any:
    import re

    return re.compile(rf"{re.escape(suffix)}\s*$")
