"""`digitbot up`'s banner: where everything runs, the line for a second terminal, a port that
was taken, and the operators' pages as configured. (tests/e2e/test_up.py runs the real thing.)"""

from __future__ import annotations

import socket

from digitbot.settings import Settings
from digitbot.up import banner, pick_port, port_taken
from tests.conftest import FAKE_TOKEN

EMBEDDED_URL = "redis://:s3cret-pass@127.0.0.1:6399/0"


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def test_embedded_redis_gets_the_export_line_for_a_second_terminal() -> None:
    text = banner(Settings(), redis_url=EMBEDDED_URL, embedded=True, workers=2, web_port=8000)
    assert f"export REDIS_URL={EMBEDDED_URL}" in lines_of(text)
    assert "Redis      redis://:***@127.0.0.1:6399/0 (embedded)" in lines_of(text)
    assert text.count("s3cret-pass") == 1  # only in the line to copy
    assert "web page   http://127.0.0.1:8000/" in lines_of(text)
    assert "workers    2 recognition process(es), 1 training process" in lines_of(text)


def test_a_redis_of_ones_own_is_not_repeated_with_its_password() -> None:
    url = "redis://:own-pass@10.0.0.5:6379/0"
    text = banner(Settings(redis_url=url), redis_url=url, embedded=False, workers=1, web_port=80)
    assert "export REDIS_URL" not in text and "own-pass" not in text


def test_the_operator_pages_line_follows_the_login() -> None:
    without = banner(Settings(), redis_url=EMBEDDED_URL, embedded=True, workers=1, web_port=8000)
    assert "operators  off: set DIGITBOT_WEB_USER and DIGITBOT_WEB_PASSWORD" in without
    with_login = banner(
        Settings(web_user="ops", web_password="long-enough-password"),
        redis_url=EMBEDDED_URL,
        embedded=True,
        workers=1,
        web_port=8000,
    )
    assert (
        "operators  http://127.0.0.1:8000/status and http://127.0.0.1:8000/rq (log in as ops)"
        in lines_of(with_login)
    )
    assert "DIGITBOT_WEB_USER" not in with_login and "long-enough-password" not in with_login


def test_the_bot_line_says_how_to_start_it_or_where_it_polls() -> None:
    off = banner(Settings(), redis_url=EMBEDDED_URL, embedded=True, workers=1, web_port=8000)
    assert "bot        not started: export TELEGRAM_BOT_TOKEN=<token from @BotFather>" in off
    on = banner(
        Settings(telegram_token=FAKE_TOKEN),
        redis_url=EMBEDDED_URL,
        embedded=True,
        workers=1,
        web_port=8000,
    )
    assert "bot        polling https://api.telegram.org/bot<token>/getUpdates" in on
    assert FAKE_TOKEN not in on


def test_a_taken_port_is_replaced_and_the_banner_warns() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        other = pick_port(port)
    assert other != port
    warning = port_taken(port, "--web-port", "the web page", other)
    text = banner(
        Settings(),
        redis_url=EMBEDDED_URL,
        embedded=True,
        workers=1,
        web_port=other,
        warnings=[warning],
    )
    assert lines_of(text)[1] == (
        f"warning    port {port} (--web-port) was taken, so the web page is on port {other} instead"
    )
    assert f"web page   http://127.0.0.1:{other}/" in lines_of(text)


def test_a_free_port_is_kept() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    assert pick_port(port) == port
