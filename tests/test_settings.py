import logging

import pytest

from digitbot.errors import ConfigurationError
from digitbot.logs import REDACTED, RedactTokenFilter, redact
from digitbot.settings import Settings, parse_admin_ids
from tests.conftest import FAKE_TOKEN


def test_settings_read_environment() -> None:
    settings = Settings.from_env(
        {
            "TELEGRAM_BOT_TOKEN": FAKE_TOKEN,
            "TELEGRAM_API_URL": "http://127.0.0.1:9/bot",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "DIGITBOT_ADMIN_IDS": "1, 22,333",
            "DIGITBOT_HOME": "/tmp/dbhome",
        }
    )
    assert settings.require_token() == FAKE_TOKEN
    assert settings.telegram_api_url == "http://127.0.0.1:9/bot"
    assert settings.telegram_file_api_url == "https://api.telegram.org/file/bot"
    assert settings.admin_ids == frozenset({1, 22, 333})
    assert settings.is_admin(22) and not settings.is_admin(4) and not settings.is_admin(None)
    assert str(settings.home) == "/tmp/dbhome"


def test_token_never_in_repr() -> None:
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": FAKE_TOKEN})
    assert FAKE_TOKEN not in repr(settings)
    assert FAKE_TOKEN.split(":")[1] not in str(settings)


@pytest.mark.parametrize("value", ["", "changeme", "your-token", "12345:short"])
def test_missing_or_placeholder_token_fails_fast_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TELEGRAM_BOT_TOKEN"):
        Settings.from_env({"TELEGRAM_BOT_TOKEN": value}).require_token()


def test_missing_redis_url_says_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        Settings.from_env({}).require_redis_url()


def test_bad_admin_ids_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="DIGITBOT_ADMIN_IDS"):
        parse_admin_ids("12,alice")


def test_redact_removes_token_shapes_from_text() -> None:
    url = f"POST https://api.telegram.org/bot{FAKE_TOKEN}/sendMessage"
    assert FAKE_TOKEN not in redact(url)
    assert REDACTED in redact(url)


def test_log_filter_redacts_messages_args_and_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    handler_filter = RedactTokenFilter(FAKE_TOKEN)
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Collect()
    handler.addFilter(handler_filter)
    logger.addHandler(handler)
    try:
        logger.warning("calling %s", f"http://x/bot{FAKE_TOKEN}/getMe")
        try:
            raise RuntimeError(f"failed for http://x/bot{FAKE_TOKEN}/getFile")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    joined = "\n".join(records)
    assert FAKE_TOKEN not in joined
    assert joined.count(REDACTED) >= 2
    assert "RuntimeError" in joined
