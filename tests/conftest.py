"""Shared fixtures: a real redis-server on a free port for the whole session, flushed per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from digitbot.redis_server import EmbeddedRedis

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Shaped like a real token (so settings accept it) but not one.
FAKE_TOKEN = "1234567:TESTtokenTESTtokenTESTtokenTESTtoken1"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture()
def redis_conn(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_server.url)
    connection.flushall()
    yield connection
    connection.flushall()
    connection.close()


@pytest.fixture()
def digitbot_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DIGITBOT_HOME", str(home))
    return home


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
