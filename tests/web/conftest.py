"""Fixtures for the web tests: an app on the real test Redis, a client, operator credentials."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw

from digitbot.settings import Settings
from web.app import create_app
from web.config import WebConfig

OPERATOR_USER = "operator"
OPERATOR_PASSWORD = "correct-horse-battery"


def basic_auth(user: str = OPERATOR_USER, password: str = OPERATOR_PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def digit_png(size: int = 120) -> bytes:
    """A small PNG of a dark '1' on white, like the canvas sends."""
    image = Image.new("L", (size, size), 255)
    ImageDraw.Draw(image).line([(size // 2, size // 5), (size // 2, 4 * size // 5)], 0, 10)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture()
def web_config() -> WebConfig:
    return WebConfig(operator_user=OPERATOR_USER, operator_password=OPERATOR_PASSWORD)


@pytest.fixture()
def make_app(redis_conn: redis.Redis) -> Callable[..., Flask]:
    """Build an app on the test Redis with the given settings and web config."""

    def build(*, settings: Settings | None = None, config: WebConfig | None = None) -> Flask:
        config = config or WebConfig(OPERATOR_USER, OPERATOR_PASSWORD)
        app = create_app(settings or Settings(), redis_conn, config=config)
        app.testing = True
        return app

    return build


@pytest.fixture()
def app(make_app: Callable[..., Flask], web_config: WebConfig) -> Flask:
    return make_app(config=web_config)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()
