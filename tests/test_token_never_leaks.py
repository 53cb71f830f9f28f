"""A refused token never reaches the output, even though the library's error message holds it."""

import os
import subprocess
import sys

from digitbot.redis_server import EmbeddedRedis
from tests.support.telegram_standin import TelegramStandIn

REAL_LOOKING = "7654321:AAAAbbbbCCCCddddEEEEffffGGGGhhhhIII"


def test_rejected_token_is_reported_without_the_token(redis_server: EmbeddedRedis) -> None:
    with TelegramStandIn("1111111:SomeOtherTokenSomeOtherTokenSomeOthe") as standin:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": REAL_LOOKING,
            "TELEGRAM_API_URL": standin.api_url,
            "TELEGRAM_FILE_API_URL": standin.file_url,
            "REDIS_URL": redis_server.url,
        }
        done = subprocess.run(
            [sys.executable, "-m", "digitbot.cli", "bot"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 2
    assert "Telegram refused TELEGRAM_BOT_TOKEN" in output
    assert REAL_LOOKING not in output
    assert REAL_LOOKING.split(":")[1] not in output
