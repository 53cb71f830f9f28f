"""`python -m web --host 127.0.0.1 --port 8000`: the web server alone (see `digitbot web`)."""

from __future__ import annotations

import argparse
import sys

from digitbot.errors import ConfigurationError
from digitbot.settings import Settings
from web.server import run_web

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m web", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"digitbot web: {exc}", file=sys.stderr)
        return 2
    return run_web(settings, host=args.host, port=args.port)


if __name__ == "__main__":
    raise SystemExit(main())
