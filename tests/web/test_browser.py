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
import re
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
from tests.support.processes import REPO_ROOT, ManagedProcess, digitbot_command, wait_until
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
    # As `digitbot up` runs it, so the status view shows what an operator would see.
    command = digitbot_command("worker", "--processes", "1")
    process = ManagedProcess("worker", command, web_stack.env, web_stack.log_dir).start()
    try:
        process.wait_for_log("ready with model", timeout=120)
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def scheduler(web_stack: WebStack) -> Iterator[ManagedProcess]:
    """The retraining scheduler, whose heartbeat the status view shows."""
    command = digitbot_command("scheduler")
    process = ManagedProcess("scheduler", command, web_stack.env, web_stack.log_dir).start()
    try:
        assert wait_until(
            lambda: web_stack.connection().exists(keys.SCHEDULER_HEARTBEAT_KEY), timeout=60
        ), process.log()[-2000:]
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
    "42": [
        [(0.28, 0.22), (0.1, 0.58), (0.42, 0.58)],
        [(0.34, 0.36), (0.33, 0.8)],
        [
            (0.56, 0.32),
            (0.66, 0.22),
            (0.8, 0.22),
            (0.87, 0.34),
            (0.84, 0.48),
            (0.58, 0.8),
            (0.92, 0.8),
        ],
    ],
}
# One figure in the headline, worded as the bot words it.
PERCENT = r"(>99\.9|\d{1,2}(\.\d)?)%"


@pytest.mark.parametrize("digit", list(DRAWINGS))
def test_drawing_a_digit_with_the_mouse_shows_the_answer(
    page: Any, web_stack: WebStack, worker: ManagedProcess, digit: str
) -> None:
    from playwright.sync_api import expect

    page.goto(web_stack.base_url)
    draw(page, DRAWINGS[digit])
    expect(page.locator("#undo")).to_be_enabled()
    _save_drawing(page, f"canvas-{digit}.png")  # what is sent, to replay through the pipeline
    page.click("#send")

    expect(page.locator("#answer-box")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#answer")).to_have_text(_starts_with(digit), timeout=1000)
    # One confidence figure: "42 — 99.9% sure", not the bot's per-digit list after it.
    expect(page.locator("#answer")).to_have_text(re.compile(rf"^{digit} — {PERCENT} sure$"))
    expect(page.locator("#confidence")).to_have_text(_ends_with("%"))
    expect(page.locator(".digit .bar")).to_have_count(10 * len(digit))
    expect(page.locator(".digit .bar.best .label")).to_have_text(list(digit))
    expect(page.locator("#sent-photo")).to_be_hidden()  # only uploads show the photo sent
    expect(page.get_by_text("not read as a digit")).to_have_count(0)
    _check_each_input_sits_beside_its_bars(page, digit)
    # The README shows the two-digit number, each digit's input beside its bars.
    _screenshot(page, f"page-drawn-{digit}.png", docs_name="page.png" if digit == "42" else None)
    if len(digit) == 1:
        _correct_the_answer(page, web_stack, digit)
    else:
        _type_a_longer_number(page, web_stack, digit)


def draw(page: Any, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw `strokes` (fractions of the canvas) with the mouse."""
    box = page.locator("#pad").bounding_box()

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    for stroke in strokes:
        page.mouse.move(*at(*stroke[0]))
        page.mouse.down()
        for point in stroke[1:]:
            page.mouse.move(*at(*point), steps=14)
        page.mouse.up()


def _check_each_input_sits_beside_its_bars(page: Any, digit: str) -> None:
    """A card per digit: the 28x28 input the model saw (holding ink), its bars on its right,
    level with it, and a caption whose figure is worded like the headline's."""
    cards = page.locator(".digit")
    assert cards.count() == len(digit)
    for index, expected in enumerate(digit):
        card = cards.nth(index)
        inputs, bars = card.locator(".model-input"), card.locator(".bars")
        assert inputs.count() == 1 and bars.count() == 1
        pixels, columns = inputs.bounding_box(), bars.bounding_box()
        assert pixels["x"] + pixels["width"] <= columns["x"], "the bars are not beside the input"
        assert (
            columns["y"] < pixels["y"] + pixels["height"]
            and pixels["y"] < columns["y"] + columns["height"]
        )
        ink = inputs.evaluate(
            "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
            ".reduce((sum, v, i) => (i % 4 === 0 ? sum + v : sum), 0)"
        )
        assert ink > 28 * 255, "the model-input canvas is blank"
        caption = card.locator("figcaption").inner_text()
        assert re.fullmatch(rf"{expected} · {PERCENT}", caption), caption
    if len(digit) == 1:  # one digit: its card and the headline give the same figure
        figure = page.locator("#confidence").inner_text()
        assert cards.first.locator("figcaption").inner_text() == f"{digit} · {figure}"


def _check_no_gap_between_draw_and_upload(page: Any) -> None:
    """On a wide screen the answer grows beside Draw; the upload card stays right under Draw."""
    draw_box = page.locator(".card.draw").bounding_box()
    upload_box = page.locator(".card.upload").bounding_box()
    result_box = page.locator("#result").bounding_box()
    # The answer is taller than both cards beside it: their rows must not share its height.
    assert result_box["height"] > draw_box["height"] + upload_box["height"] + 20
    gap = upload_box["y"] - (draw_box["y"] + draw_box["height"])
    assert 0 <= gap <= 20, f"{gap:.0f} px between Draw and the upload card"


def _type_a_longer_number(page: Any, web_stack: WebStack, number: str) -> None:
    """ "✏️ correct it", then type a number with one digit more than was read: it is kept."""
    from playwright.sync_api import expect

    store = FeedbackStore(web_stack.connection())
    known = {s.sample_id for s in store.samples()}
    page.get_by_role("button", name="✏️ correct it").click()
    page.locator("details.privacy summary").click()  # what is kept: the answer is tall now
    _check_no_gap_between_draw_and_upload(page)
    page.locator("details.privacy summary").click()
    longer = number + "1"
    page.fill("#typed", longer)
    page.get_by_role("button", name="Save", exact=True).click()
    note = page.locator("#feedback-note")
    expect(note).to_be_visible()
    [sample] = [s for s in store.samples() if s.sample_id not in known]
    assert (sample.label, sample.predicted, len(sample.crops)) == (longer, number, len(number))
    said = texts.HELD_CORRECTION if sample.status == "held" else texts.RECORDED_CORRECTION
    expect(note).to_have_text(said.format(label=longer))


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


def test_an_uploaded_five_drawn_in_two_strokes_is_one_digit(
    page: Any, web_stack: WebStack, worker: ManagedProcess, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    photo = tmp_path / "five.png"
    photo.write_bytes(two_stroke_five())
    page.goto(web_stack.base_url)
    page.set_input_files("#file", str(photo))
    expect(page.locator("#answer")).to_have_text(_starts_with("5"), timeout=ANSWER_TIMEOUT_MS)
    # Its flag and its body are one mark to the model: one card, its input beside its bars.
    expect(page.locator(".digit")).to_have_count(1)
    expect(page.get_by_text("not read as a digit")).to_have_count(0)
    _check_each_input_sits_beside_its_bars(page, "5")


def test_inputs_pair_with_the_digits_read_from_them_by_their_box(
    page: Any, web_stack: WebStack
) -> None:
    """A speck the model called "not a digit" left of a 5: the 5's input keeps its bars, and
    only the speck is "not read as a digit" (the page once paired them by count)."""
    from playwright.sync_api import expect

    five = [[255 if 8 <= x <= 20 and 6 <= y <= 22 else 0 for x in range(28)] for y in range(28)]
    speck = [[255 if 12 <= x <= 15 and 12 <= y <= 15 else 0 for x in range(28)] for y in range(28)]
    probabilities = [0.001] * 10
    probabilities[5] = 0.979
    answer = {
        "answer": "5 — 97.9% sure", "text": "5", "confidence": 0.979, "model_version": "m",
        "digits": [{"digit": 5, "confidence": 0.979, "probabilities": probabilities,
                    "box": [120, 100, 300, 340]}],
        "inputs": [speck, five], "input_boxes": [[20, 200, 40, 220], [120, 100, 300, 340]],
    }  # fmt: skip
    page.route("**/api/result/*", lambda route: route.fulfill(json=answer))
    page.goto(web_stack.base_url)
    draw(page, DRAWINGS["1"])
    page.click("#send")
    expect(page.locator(".digit")).to_have_count(2, timeout=ANSWER_TIMEOUT_MS)
    first, second = page.locator(".digit").nth(0), page.locator(".digit").nth(1)
    expect(first.locator("figcaption")).to_have_text("not read as a digit")
    expect(first.locator(".bars")).to_have_count(0)
    expect(second.locator("figcaption")).to_have_text("5 · 97.9%")
    expect(second.locator(".model-input")).to_have_count(1)
    expect(second.locator(".bars")).to_have_count(1)
    expect(page.locator("#answer")).to_have_text("5 — 97.9% sure")


def test_after_an_answer_on_a_phone_the_canvas_stays_in_reach(
    browser: Any, web_stack: WebStack, worker: ManagedProcess
) -> None:
    from playwright.sync_api import expect

    # Reduced motion: the page scrolls at once as the answer shows, so what is on screen then
    # is where it stays.
    context = browser.new_context(
        viewport={"width": 390, "height": 740}, device_scale_factor=2,
        is_mobile=True, has_touch=True, reduced_motion="reduce",
    )  # fmt: skip
    try:
        phone = context.new_page()
        phone.goto(web_stack.base_url)
        draw(phone, DRAWINGS["7"])
        phone.locator("#send").tap()
        expect(phone.locator("#answer")).to_have_text(_starts_with("7"), timeout=ANSWER_TIMEOUT_MS)
        # The headline scrolls into view, and no further: the canvas is still there to draw on.
        expect(phone.locator("#answer")).to_be_in_viewport(ratio=1)
        expect(phone.locator("#pad")).to_be_in_viewport(ratio=0.9)
        _screenshot(phone, "phone-answer.png")
    finally:
        context.close()


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
    browser: Any, web_stack: WebStack, worker: ManagedProcess, scheduler: ManagedProcess
) -> None:
    from playwright.sync_api import expect

    anonymous = browser.new_context()
    try:
        for path in ("/status", "/rq/"):
            assert anonymous.request.get(f"{web_stack.base_url}{path}").status == 401
        visitor = anonymous.new_page()
        visitor.goto(web_stack.base_url)
        expect(visitor.get_by_role("link", name="Read a digit")).to_be_visible()
        expect(visitor.get_by_role("link", name="Status")).to_have_count(0)  # operators only
        with pytest.raises(Exception, match="ERR_INVALID_AUTH_CREDENTIALS"):
            visitor.goto(f"{web_stack.base_url}/status")
    finally:
        anonymous.close()

    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        http_credentials={"username": OPERATOR_USER, "password": OPERATOR_PASSWORD},
    )
    try:
        status = context.new_page()
        status.goto(f"{web_stack.base_url}/status")
        # As an operator sees it on a running stack: the shipped model the worker published,
        # the worker with its device, the scheduler's heartbeat, times in words.
        expect(status.locator("#champion")).not_to_have_text(re.compile("none yet"))
        expect(status.locator("#queues")).to_contain_text("recognition")
        expect(status.locator("#queues")).to_contain_text("training")
        expect(status.locator("#workers td[data-label=Device]")).to_contain_text(
            re.compile(r"^(CPU|GPU) .*model", re.S)
        )
        expect(status.locator("#training")).to_contain_text(
            re.compile(r"running \(last heartbeat\s+(just now|\d+ s ago)")
        )
        expect(status.locator("#models time").first).to_have_text(re.compile(r"ago|just now"))
        _screenshot(status, "status.png", docs_name="status.png")
        # Once logged in, the public page shows the way to the status view.
        status.goto(web_stack.base_url)
        status.get_by_role("link", name="Status").click()
        expect(status).to_have_url(f"{web_stack.base_url}/status")

        _retrain_asks_first(status, web_stack)

        dashboard = context.new_page()
        dashboard.goto(f"{web_stack.base_url}/rq/")
        expect(dashboard.locator("body")).to_contain_text("training", timeout=10_000)
        _screenshot(dashboard, "rq-dashboard.png")
        # The dashboard reads our JSON-serialized jobs: the retraining just asked for is listed.
        dashboard.goto(f"{web_stack.base_url}/rq/0/view/jobs/training/queued/8/asc/1")
        expect(dashboard.locator("body")).to_contain_text(keys.RETRAIN_JOB_ID, timeout=10_000)
        dashboard.get_by_role("link", name="digitbot status").click()  # and leads back
        expect(dashboard).to_have_url(f"{web_stack.base_url}/status")
    finally:
        context.close()


def _retrain_asks_first(status: Any, web_stack: WebStack) -> None:
    """ "Retrain now" asks first, saying what a first retraining costs; Cancel sends nothing,
    "Start retraining" queues one, and a second is refused while it waits."""
    from playwright.sync_api import expect

    asked: list[str] = []
    status.on("request", lambda r: asked.append(r.url) if "/api/retrain" in r.url else None)
    question = status.locator("#retrain-confirm")
    expect(question).to_be_hidden()
    status.click("#retrain")
    expect(question).to_be_visible()
    expect(question).to_contain_text("The first retraining of a deployment")
    expect(question).to_contain_text("about an hour and a quarter")
    status.click("#retrain-cancel")
    expect(question).to_be_hidden()
    assert asked == [] and not web_stack.connection().exists(f"rq:job:{keys.RETRAIN_JOB_ID}")

    status.click("#retrain")
    status.click("#retrain-start")
    expect(status.locator("#retrain-message")).to_have_text(texts.RETRAIN_QUEUED_ON_PAGE)
    expect(question).to_be_hidden()
    status.click("#retrain")
    status.click("#retrain-start")
    expect(status.locator("#retrain-message")).to_have_text(
        texts.RETRAIN_ALREADY.format(status="queued")
    )
    assert len(asked) == 2


def test_the_status_view_fits_a_phone(browser: Any, web_stack: WebStack) -> None:
    from playwright.sync_api import expect

    ModelRegistry(web_stack.connection()).publish(
        b"not a real model",  # a long version and reason, as retrainings write them
        {"version": "20261120-104620-digitnet", "arch": "digitnet", "test_accuracy": 0.9961},
    )
    context = browser.new_context(
        viewport={"width": 390, "height": 740}, device_scale_factor=2, is_mobile=True,
        has_touch=True,
        http_credentials={"username": OPERATOR_USER, "password": OPERATOR_PASSWORD},
    )  # fmt: skip
    try:
        phone = context.new_page()
        phone.goto(f"{web_stack.base_url}/status")
        expect(phone.locator("#models")).to_contain_text("20261120-104620-digitnet")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        too_wide = phone.evaluate(
            "[...document.querySelectorAll('.scroll, table')]"
            ".filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.closest('section').id)"
        )
        assert too_wide == [], f"tables wider than the phone in {too_wide}"
        # Each value keeps its name beside it, as the column headings are gone.
        label = phone.locator("#queues td[data-label=Waiting]").first
        assert label.evaluate("td => getComputedStyle(td, '::before').content") == '"Waiting"'
        _screenshot(phone, "status-phone.png")
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


def two_stroke_five(size: int = 400) -> bytes:
    """A 5 written as most people write it: the body, then the flag lifted off the paper."""
    image = Image.new("L", (size, size), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(150, 110), (140, 200)], fill=0, width=24)
    pen.arc([(120, 170), (280, 330)], start=-100, end=150, fill=0, width=24)
    pen.line([(180, 85), (270, 80)], fill=0, width=24)  # the flag, apart from the body
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
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
