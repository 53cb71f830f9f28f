"""run_web and `python -m web`: refusing to open operator pages to the network without a login."""

from __future__ import annotations

import subprocess
import sys

import pytest

from digitbot.errors import ConfigurationError
from digitbot.redis_server import EmbeddedRedis, free_port
from digitbot.settings import Settings
from tests.support.processes import REPO_ROOT
from web.config import WebConfig
from web.server import is_loopback, refuse_open_without_login, run_web


def test_run_web_refuses_a_public_address_without_credentials(
    redis_server: EmbeddedRedis, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("DIGITBOT_WEB_USER", raising=False)
    monkeypatch.delenv("DIGITBOT_WEB_PASSWORD", raising=False)
    monkeypatch.setattr("web.server.configure_logging", lambda component: None)
    settings = Settings(redis_url=redis_server.url)
    assert run_web(settings, host="0.0.0.0", port=free_port()) == 2
    message = capsys.readouterr().err
    assert "DIGITBOT_WEB_USER" in message and "DIGITBOT_WEB_PASSWORD" in message
    assert "127.0.0.1" in message


def test_python_dash_m_web_exits_2_with_the_how_to(redis_server: EmbeddedRedis) -> None:
    env = {"REDIS_URL": redis_server.url, "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, "-m", "web", "--host", "0.0.0.0", "--port", str(free_port())],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "DIGITBOT_WEB_PASSWORD" in completed.stderr


def test_half_a_login_or_a_placeholder_password_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="DIGITBOT_WEB_PASSWORD is not set"):
        WebConfig.from_env({"DIGITBOT_WEB_USER": "ops"})
    with pytest.raises(ConfigurationError, match="DIGITBOT_WEB_USER is not set"):
        WebConfig.from_env({"DIGITBOT_WEB_PASSWORD": "long-enough-secret"})
    with pytest.raises(ConfigurationError, match="placeholder"):
        WebConfig.from_env({"DIGITBOT_WEB_USER": "ops", "DIGITBOT_WEB_PASSWORD": "changeme"})
    with pytest.raises(ConfigurationError, match="DIGITBOT_WEB_RATE_PER_MINUTE"):
        WebConfig.from_env({"DIGITBOT_WEB_RATE_PER_MINUTE": "lots"})
    config = WebConfig.from_env({"DIGITBOT_WEB_USER": "ops", "DIGITBOT_WEB_PASSWORD": "s3cret-pw"})
    assert config.has_operator_login and "s3cret-pw" not in repr(config)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
     ("0.0.0.0", False), ("::", False), ("", False), ("192.168.1.5", False), ("web", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    if loopback:
        refuse_open_without_login(WebConfig(), host)
    else:
        with pytest.raises(ConfigurationError):
            refuse_open_without_login(WebConfig(), host)
    refuse_open_without_login(WebConfig("ops", "s3cret-pw"), host)  # with a login: any address


def test_dashboard_gets_a_url_for_the_same_redis() -> None:
    import redis

    from web.app import redis_url_of

    plain = redis.Redis(host="redis", port=6380, db=2)
    assert redis_url_of(plain) == "redis://redis:6380/2"
    secret = redis.Redis.from_url("redis://:p%40ss@redis:6379/0")
    assert redis_url_of(secret) == "redis://:p%40ss@redis:6379/0"
    assert (
        redis.Redis.from_url(redis_url_of(secret)).connection_pool.connection_kwargs["password"]
        == "p@ss"
    )


def test_forwarded_headers_are_trusted_only_from_the_configured_proxy() -> None:
    from web.server import server_options

    assert "trusted_proxy" not in server_options(WebConfig())
    options = server_options(WebConfig.from_env({"DIGITBOT_WEB_TRUSTED_PROXY": "10.0.0.2"}))
    assert options["trusted_proxy"] == "10.0.0.2"
    assert "x-forwarded-for" in options["trusted_proxy_headers"]  # type: ignore[operator]
    assert options["clear_untrusted_proxy_headers"] is True
