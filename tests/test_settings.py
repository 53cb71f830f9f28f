import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digitbot.errors import ConfigurationError, InvalidSettingError
from digitbot.logs import REDACTED, RedactTokenFilter, redact
from digitbot.settings import Settings
from digitbot.settings_doc import REGENERATE, configuration_markdown
from tests.conftest import FAKE_TOKEN
from tests.support.processes import REPO_ROOT

CONFIGURATION_DOC = REPO_ROOT / "docs" / "configuration.md"
# Where the product may still touch os.environ: the settings object reads it; elsewhere only
# to hand an environment to a child process or to configure a library before it is imported.
PRODUCT_PACKAGES = ("bot", "worker", "reading", "training", "web", "digitbot", "benchmarks")
ENVIRONMENT_READER = REPO_ROOT / "digitbot" / "settings.py"


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


def test_the_variables_once_undocumented_are_read_and_documented() -> None:
    settings = Settings.from_env(
        {
            "DIGITBOT_WEB_TRUSTED_PROXY": "10.0.0.2",
            "DIGITBOT_PHOTOS_PER_USER_PER_MINUTE": "7",
            "DIGITBOT_COMPUTE_THREADS": "3",
            "DIGITBOT_GATE_PHOTOS": "0",
        }
    )
    assert settings.web_trusted_proxy == "10.0.0.2"
    assert (settings.photos_per_user_per_minute, settings.compute_threads) == (7, 3)
    assert settings.gate_photos == 0
    table = CONFIGURATION_DOC.read_text(encoding="utf-8")
    for name in (
        "DIGITBOT_WEB_TRUSTED_PROXY",
        "DIGITBOT_PHOTOS_PER_USER_PER_MINUTE",
        "DIGITBOT_COMPUTE_THREADS",
        "DIGITBOT_GATE_PHOTOS",
    ):
        assert f"| `{name}` |" in table


def test_blank_means_unset_and_values_are_stripped_but_passwords_kept_whole() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "   ",
            "DIGITBOT_HOME": "",
            "DIGITBOT_MAX_QUEUE_DEPTH": " 50 ",
            "DIGITBOT_LOG_LEVEL": "debug",
            "DIGITBOT_RETRAIN_CRON": " @weekly ",
            "DIGITBOT_WEB_PASSWORD": " two words ",
        }
    )
    assert settings.redis_url is None
    assert settings.home == Path.home() / ".digitbot"
    assert settings.max_queue_depth == 50
    assert settings.log_level == "DEBUG"
    assert settings.retrain_cron == "@weekly"
    assert settings.web_password == " two words "


def test_constructing_settings_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGITBOT_MAX_QUEUE_DEPTH", "5")
    assert Settings().max_queue_depth == 2000  # tests say what they set
    assert Settings(max_queue_depth=9).max_queue_depth == 9
    assert Settings.from_env().max_queue_depth == 5


def test_token_never_in_repr() -> None:
    settings = Settings.from_env({"TELEGRAM_BOT_TOKEN": FAKE_TOKEN})
    assert FAKE_TOKEN not in repr(settings)
    assert FAKE_TOKEN.split(":")[1] not in str(settings)


def test_secrets_stay_out_of_repr() -> None:
    settings = Settings.from_env(
        {
            "DIGITBOT_WEB_PASSWORD": "correct-horse",
            "DIGITBOT_WEBHOOK_SECRET": "webhook-secret-0123456789",
            "REDIS_URL": "redis://:hunter2hunter2@10.0.0.5:6379/0",
        }
    )
    shown = repr(settings)
    assert "correct-horse" not in shown and "webhook-secret" not in shown
    assert "hunter2hunter2" not in shown
    assert "max_queue_depth=2000" in shown  # the rest is shown


@pytest.mark.parametrize("value", ["", "changeme", "your-token", "12345:short"])
def test_missing_or_placeholder_token_fails_fast_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="TELEGRAM_BOT_TOKEN"):
        Settings.from_env({"TELEGRAM_BOT_TOKEN": value}).require_token()


@pytest.mark.parametrize(
    "value",
    ["changeme", "CHANGEME", "your-token-here", "<token>", "'<your bot token>'", "xxxxxxxx",
     "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"],
)  # fmt: skip
def test_a_placeholder_token_is_called_a_placeholder_not_missing(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": value}).require_token()
    assert str(raised.value).startswith("TELEGRAM_BOT_TOKEN is a placeholder, not a bot token.")
    assert value not in str(raised.value)  # a value is never echoed: it might be a real token


@pytest.mark.parametrize("environ", [{}, {"TELEGRAM_BOT_TOKEN": ""}, {"TELEGRAM_BOT_TOKEN": " "}])
def test_an_unset_or_blank_token_is_not_set(environ: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="^TELEGRAM_BOT_TOKEN is not set. "):
        Settings.from_env(environ).require_token()


def test_missing_redis_url_says_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="REDIS_URL"):
        Settings.from_env({}).require_redis_url()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("DIGITBOT_MAX_QUEUE_DEPTH", "lots", "expected integer ≥ 1, got 'lots'"),
        ("DIGITBOT_MAX_QUEUE_DEPTH", "0", "expected integer ≥ 1, got '0'"),
        ("DIGITBOT_INFERENCE_BATCH", "0", "expected integer ≥ 1"),
        ("DIGITBOT_GATE_PHOTOS", "-1", "expected integer ≥ 0"),
        (
            "DIGITBOT_ADMIN_IDS",
            "12,alice",
            "expected comma-separated Telegram user ids, got 'alice'",
        ),
        ("DIGITBOT_ALLOW_UNAUTHENTICATED_REDIS", "maybe", "expected 0 or 1, got 'maybe'"),
        ("DIGITBOT_LOG_LEVEL", "loud", "expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL"),
        ("DIGITBOT_RETRAIN_CRON", "61 * * * *", "out of range"),
        ("DIGITBOT_RETRAIN_CRON", "0 3 * *", "expected 5 fields"),
        ("DIGITBOT_WEB_TRUSTED_PROXY", "proxy.example", "expected an IP address"),
        ("TELEGRAM_API_URL", "api.telegram.org/bot", "expected an http:// or https:// URL"),
        ("REDIS_URL", "localhost:6379", "expected a redis://, rediss:// or unix:// URL"),
        ("DIGITBOT_WEBHOOK_SECRET", "short", "expected 16 to 256 characters"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_the_variable(
    name: str, value: str, says: str
) -> None:
    with pytest.raises(InvalidSettingError) as raised:
        Settings.from_env({name: value})
    message = str(raised.value)
    assert message.startswith(f"{name}: ") and says in message
    assert "\n" not in message and raised.value.variables == (name,)


def test_secrets_stay_out_of_the_refusal() -> None:
    env = {"REDIS_URL": "http://:hunter2hunter2@10.0.0.5", "DIGITBOT_WEBHOOK_SECRET": "abc def"}
    with pytest.raises(InvalidSettingError) as raised:
        Settings.from_env(env)
    assert "hunter2" not in str(raised.value) and "abc def" not in str(raised.value)
    assert raised.value.variables == ("REDIS_URL", "DIGITBOT_WEBHOOK_SECRET")


def test_every_wrong_variable_is_named_on_the_one_line() -> None:
    with pytest.raises(InvalidSettingError) as raised:
        Settings.from_env({"DIGITBOT_MAX_QUEUE_DEPTH": "lots", "DIGITBOT_RETRAIN_EPOCHS": "many"})
    assert raised.value.variables == ("DIGITBOT_MAX_QUEUE_DEPTH", "DIGITBOT_RETRAIN_EPOCHS")
    assert "\n" not in str(raised.value)


def test_every_variable_is_named_typed_and_described() -> None:
    fields = Settings.model_fields
    names = [field.alias or "" for field in fields.values()]
    assert len(set(names)) == len(names) == len(fields)
    for name, field in zip(names, fields.values(), strict=True):
        assert name.startswith(("DIGITBOT_", "TELEGRAM_")) or name == "REDIS_URL", name
        assert field.description and len(field.description) > 20, f"{name} lacks a description"


def test_the_configuration_doc_is_the_settings_object() -> None:
    expected = configuration_markdown()
    assert CONFIGURATION_DOC.read_text(encoding="utf-8") == expected, (
        f"docs/configuration.md is out of date with digitbot/settings.py; run: {REGENERATE}"
    )
    for field in Settings.model_fields.values():
        assert f"| `{field.alias}` |" in expected


def test_the_doc_regenerates_from_the_command_in_its_header() -> None:
    assert REGENERATE in CONFIGURATION_DOC.read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "digitbot.settings_doc"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == configuration_markdown()


@pytest.mark.parametrize(
    ("command", "name", "value"),
    [
        (["models", "list"], "DIGITBOT_MAX_QUEUE_DEPTH", "lots"),
        (["scheduler"], "DIGITBOT_RETRAIN_CRON", "0 3 * * FUNDAY"),
    ],
)
def test_the_command_line_stops_on_a_bad_value_with_one_line_and_status_2(
    command: list[str], name: str, value: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITBOT_")}
    # A reachable-looking Redis: the refusal must come before any connection is tried.
    env.update({name: value, "REDIS_URL": "redis://127.0.0.1:9/0", "TF_CPP_MIN_LOG_LEVEL": "3"})
    done = subprocess.run(
        [sys.executable, "-m", "digitbot.cli", *command],
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    # Neither command loads TensorFlow, whose native start-up lines could precede the message.
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"digitbot {command[0]}: {name}: "), done.stderr
    assert repr(value) in done.stderr


def _environment_reads(tree: ast.AST) -> list[int]:
    """Lines that read os.environ or call os.getenv (handing it on, `{**os.environ}`, or
    `os.environ.setdefault` for a library are not reads)."""

    def is_environ(node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "environ"
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        )

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            called = node.func
            read = (called.attr == "getenv" and isinstance(called.value, ast.Name)) or (
                called.attr in ("get", "items", "keys", "copy") and is_environ(called.value)
            )
        elif isinstance(node, ast.Subscript):  # os.environ["X"] = ... sets, for a library
            read = is_environ(node.value) and isinstance(node.ctx, ast.Load)
        elif isinstance(node, ast.Compare):  # "X" in os.environ
            read = any(is_environ(c) for c in node.comparators)
        else:
            read = False
        if read:
            lines.append(node.lineno)
    return lines


def test_only_the_settings_object_reads_the_environment() -> None:
    found = []
    for package in PRODUCT_PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path == ENVIRONMENT_READER:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found += [f"{path.relative_to(REPO_ROOT)}:{line}" for line in _environment_reads(tree)]
    assert not found, f"read digitbot.settings.Settings instead of the environment: {found}"


def test_the_environment_read_finder_finds_reads() -> None:
    code = "import os\na = os.environ.get('X')\nb = os.getenv('Y')\nc = os.environ['Z']\n"
    code += (
        "d = 'W' in os.environ\nenv = {**os.environ, 'A': '1'}\nos.environ.setdefault('B', '2')\n"
    )
    assert _environment_reads(ast.parse(code)) == [2, 3, 4, 5]


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
