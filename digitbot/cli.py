"""The `digitbot` command line. Each sub-command imports only what it needs, so `digitbot bot`
never loads TensorFlow.

Conventions: results go to stdout, messages and errors to stderr. An error digitbot knows
(digitbot.errors, Redis out of reach, a file that cannot be read) ends the command with one line
`digitbot <command>: <message>` on stderr and exit status 2 (usage or configuration) or 1 (the
command failed); `digitbot --debug <command>` shows the traceback instead. A reader that closes
stdout early (`digitbot models show | head`) ends the command quietly with status 141, as if
SIGPIPE had killed it; Ctrl-C ends it with 130. `healthcheck` answers 0 or 1 only (Docker reads
2 as reserved).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from digitbot import __version__, defaults
from digitbot.errors import ConfigurationError, DigitbotError

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `yes | head -1`'s `yes`
EXIT_INTERRUPTED = 130  # 128 + SIGINT

MODELS_ACTIONS = {
    "list": "every stored version, newest first; * marks the champion",
    "show": "the metadata of VERSION as JSON (default: the champion)",
    "promote": "make VERSION the champion; workers switch to it within seconds",
    "rollback": "make the champion before the current one champion again",
    "history": "promotions, rollbacks and refused candidates, newest first",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's help ends with "(default: ...)", unless its help already says its default
    or it is a flag (off unless given) or has no value by default (None)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text
            or action.default is None
            or action.default is False
            or action.default is argparse.SUPPRESS
        ):
            return text
        return super()._get_help_string(action)


class ModelsHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """Keeps the `models` description's one line per action."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitbot", description="Read handwritten digits.", formatter_class=HelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"digitbot {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, show the Python traceback instead of one line",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run everything on this machine (embedded Redis if needed)")
    up.add_argument("--workers", type=int, default=1, help="recognition worker processes")
    up.add_argument(
        "--redis-port",
        type=int,
        default=defaults.EMBEDDED_REDIS_PORT,
        help="port of the embedded Redis (when REDIS_URL is not set)",
    )
    up.add_argument("--web-port", type=int, default=defaults.WEB_PORT, help="port of the web page")

    bot = sub.add_parser("bot", help="run the Telegram bot (long polling, or --webhook)")
    bot.add_argument(
        "--webhook",
        metavar="URL",
        default=None,
        help="public https URL Telegram posts updates to (needs DIGITBOT_WEBHOOK_SECRET; "
        "default: long polling)",
    )
    bot.add_argument("--listen", default="127.0.0.1", help="webhook server address")
    bot.add_argument("--port", type=int, default=8443, help="webhook server port")

    web = sub.add_parser("web", help="serve the web page, status view and RQ dashboard")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on")
    web.add_argument("--port", type=int, default=defaults.WEB_PORT, help="port to listen on")

    worker = sub.add_parser("worker", help="run RQ worker processes on this host")
    worker.add_argument("--processes", type=int, default=1, help="worker processes")
    worker.add_argument(
        "--queues",
        default=defaults.QUEUE_RECOGNITION,
        help="comma-separated queue names (e.g. recognition,training)",
    )

    predict = sub.add_parser(
        "predict",
        help="read digits in image files locally (no Redis)",
        description="Read the digits in image files with the workers' own reading, locally. "
        "One line per image on stdout (with --json, one JSON object per image, unreadable "
        'ones included with their "error"); without --json an image that cannot be read '
        "gets a line `FILE: error: ...` on stderr. Exit status 1 if any file could not be "
        "opened or is not an image, 0 otherwise.",
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--model", default=None, help="a .keras file (default: the shipped model)")
    predict.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="read the images in directories' subdirectories too",
    )
    predict.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="an image file; a directory (its image files, sorted, by extension: "
        ".png .jpg .jpeg .webp .bmp .gif .tif .tiff .heic .heif); or - for one image on stdin",
    )

    evaluate = sub.add_parser(
        "evaluate",
        help="score the model on every photo source (one table, sources x sets)",
        description="Score the model through the workers' own reading on MNIST test digits "
        "as image files, our phone-photo benchmark and a held-out renderer "
        "(training/cross_source.py).",
    )
    evaluate.add_argument(
        "--photos",
        action="store_true",
        help="only our phone-photo benchmark, beside the tutorials' resize-and-invert way",
    )
    evaluate.add_argument(
        "--sources",
        default="mnist-files,canvas,benchmark,heldout",
        metavar="LIST",
        help="comma-separated sources for the table (default: all: %(default)s)",
    )
    evaluate.add_argument("--n", type=int, default=200, help="photos per set")
    evaluate.add_argument(
        "--draw",
        type=int,
        default=0,
        metavar="N",
        help="another draw of the same sets, every seed moved by N (default 0: the benchmark's)",
    )
    evaluate.add_argument("--model", default=None, help="a .keras file (default: shipped model)")
    evaluate.add_argument(
        "--no-baseline", action="store_true", help="skip the tutorials' resize-and-invert baseline"
    )
    evaluate.add_argument(
        "--misses",
        metavar="DIR",
        default=None,
        help="also write a contact sheet of each set's misses to DIR/<set>.png",
    )
    evaluate.add_argument(
        "--styles",
        action="store_true",
        help="also score MNIST test 1s and 7s written the continental way (flag, foot, bar) "
        "beside the same digits as written",
    )

    models = sub.add_parser(
        "models",
        help="model versions in the registry: list, show, promote, rollback, history",
        description="Operate the model registry in Redis (REDIS_URL). Actions:\n\n"
        + "\n".join(f"  {name:9} {what}" for name, what in MODELS_ACTIONS.items()),
        formatter_class=ModelsHelpFormatter,
    )
    models.add_argument(
        "action",
        choices=list(MODELS_ACTIONS),
        metavar="ACTION",
        help="one of " + ", ".join(MODELS_ACTIONS) + " (each described above)",
    )
    models.add_argument(
        "version",
        nargs="?",
        metavar="VERSION",
        help="the model version, for show (default: the champion) and promote (required)",
    )

    sub.add_parser(
        "retrain",
        help="queue a retraining of digitnet (deduplicated)",
        description="Queue a retraining of digitnet on the 'training' queue; exit 1 when one "
        "is already queued or running.",
    )
    sub.add_parser("scheduler", help="queue retraining on DIGITBOT_RETRAIN_CRON")

    from digitbot.healthcheck import add_arguments as add_healthcheck_arguments

    health = sub.add_parser("healthcheck", help="exit 0 if this host's component is healthy")
    add_healthcheck_arguments(health)

    try:
        from training.commands import add_train_parser
    except ImportError:  # training code absent in a slim (bot-only) install
        pass
    else:
        add_train_parser(sub)
    try:
        from benchmarks.cli import add_bench_parser
    except ImportError:  # benchmarks/ lives in a checkout, not in an installed wheel or image
        # Whatever follows `bench` is taken as is (no option prefix), so the message comes.
        missing = sub.add_parser(
            "bench", help="the benchmarks (not installed here)", prefix_chars="\0", add_help=False
        )
        missing.add_argument("ignored", nargs="*", help=argparse.SUPPRESS)
        missing.set_defaults(bench_missing=True)
    else:
        add_bench_parser(sub)
    for command_parser in sub.choices.values():
        _show_defaults(command_parser)
    return parser


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command's help the "(default: ...)" formatter, also the parsers other
    modules add (train, bench, healthcheck), and a default line to an option without help."""
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = HelpFormatter
    for action in parser._actions:
        has_default = action.default is not None and action.default is not argparse.SUPPRESS
        if action.option_strings and action.help is None and has_default:
            action.help = "(default: %(default)s)"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "healthcheck":  # Docker reserves exit code 2: answer 0 or 1 only
        from digitbot.healthcheck import run as run_healthcheck

        return run_healthcheck(args)
    try:
        status = dispatch(args)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return status
    except BrokenPipeError:
        if args.debug:
            traceback.print_exc()
        return _stdout_closed()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = describe_error(exc)
        if known is None:  # a bug: its traceback is what a report needs
            raise
        message, status = known
        if args.debug:
            traceback.print_exc()
        else:
            print(f"digitbot {command_name(args)}: {message}", file=sys.stderr, flush=True)
        return status


def command_name(args: argparse.Namespace) -> str:
    """The command as an error line names it: `models show`, else the sub-command."""
    if args.command == "models":
        return f"models {args.action}"
    return str(args.command)


def describe_error(exc: BaseException) -> tuple[str, int] | None:
    """(one-line message, exit status) for an error the command line explains itself, None for
    anything else (a bug, shown with its traceback)."""
    if isinstance(exc, ConfigurationError):
        return one_line(str(exc)), EXIT_USAGE
    if isinstance(exc, DigitbotError):
        return one_line(str(exc)), EXIT_FAILURE
    redis_error = _describe_redis_error(exc)
    if redis_error is not None:
        return redis_error, EXIT_FAILURE
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        if exc.filename is not None:
            return one_line(f"{exc.filename}: {reason}"), EXIT_FAILURE
        return one_line(reason), EXIT_FAILURE
    return None


def _describe_redis_error(exc: BaseException) -> str | None:
    redis_module = sys.modules.get("redis")
    if redis_module is None:  # never imported: this is no Redis error
        return None
    errors = redis_module.exceptions
    if not isinstance(exc, errors.RedisError):
        return None
    url = _redis_url()
    redis_at = f"Redis at {redis_location(url)} (REDIS_URL)" if url else "Redis"
    if isinstance(exc, errors.AuthenticationError):
        return f"{redis_at} refused the password: {_redis_reason(exc)}"
    if isinstance(exc, errors.ConnectionError | errors.TimeoutError):
        return f"cannot reach {redis_at}: {_redis_reason(exc)}"
    return f"{redis_at} answered with an error: {_redis_reason(exc)}"


def _redis_reason(exc: BaseException) -> str:
    """The socket's own reason when there is one ("Connection refused"), else redis' message,
    with REDIS_URL's password taken out should it ever appear."""
    cause: BaseException | None = exc.__cause__ or exc.__context__
    while cause is not None and not (isinstance(cause, OSError) and cause.strerror):
        cause = cause.__cause__ or cause.__context__
    reason = cause.strerror if isinstance(cause, OSError) and cause.strerror else str(exc)
    if not reason:
        reason = type(exc).__name__
    password = _redis_password(_redis_url())
    if password:
        reason = reason.replace(password, "***")
    return one_line(reason)


def _redis_url() -> str:
    """REDIS_URL as the settings read it ("" when unset, or when the settings are refused)."""
    from digitbot.settings import Settings

    try:
        return Settings.from_env().redis_url or ""
    except ConfigurationError:
        return ""


def redis_location(url: str) -> str:
    """host:port (or the socket's path) of a Redis URL, without user or password."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(unparsable REDIS_URL)"
    if parts.scheme == "unix":
        return parts.path
    host = parts.hostname or "localhost"
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return f"{host}:{port or 6379}"


def _redis_password(url: str) -> str | None:
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def one_line(message: str) -> str:
    return " ".join(message.split())


def _stdout_closed() -> int:
    """The reader of stdout went away (`| head`): say nothing, and point stdout at /dev/null so
    the interpreter's last flush at exit cannot fail again (the Python docs' recipe)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout has no descriptor (replaced by a test, say)
        pass
    return EXIT_BROKEN_PIPE


# Sub-commands that load TensorFlow in this process: it is imported first, quietly (see
# digitbot.quiet_native), so its native start-up lines never reach the terminal.
TENSORFLOW_COMMANDS = frozenset({"predict", "evaluate", "train", "bench"})
BENCHMARKS_MISSING = (
    "the benchmarks are not installed here: benchmarks/ belongs to a checkout of the repository, "
    "not to the wheel or the images. Run `digitbot bench` in a checkout, after scripts/setup dev."
)


def dispatch(args: argparse.Namespace) -> int:
    from digitbot.logs import configure_logging
    from digitbot.settings import Settings

    settings = Settings.from_env()
    _check_input_files(args)
    if getattr(args, "bench_missing", False):
        raise DigitbotError(BENCHMARKS_MISSING)
    if args.command in TENSORFLOW_COMMANDS:
        from digitbot.quiet_native import import_keras

        import_keras()
    if args.command == "up":
        from digitbot.up import run_up

        return run_up(
            settings, workers=args.workers, redis_port=args.redis_port, web_port=args.web_port
        )
    if args.command == "web":
        from web.server import run_web

        return run_web(settings, host=args.host, port=args.port)
    if args.command == "bot":
        from bot.app import WebhookOptions, run

        configure_logging("bot")
        webhook = None
        if args.webhook:
            webhook = WebhookOptions.from_args(
                args.webhook, args.listen, args.port, secret=settings.webhook_secret
            )
        return run(settings, webhook)
    if args.command == "worker":
        from worker.supervisor import WorkerPool

        configure_logging("worker")
        queues = [q.strip() for q in args.queues.split(",") if q.strip()]
        return WorkerPool(settings.require_redis_url(), queues, args.processes).run()
    if args.command == "predict":
        from digitbot.predict_cli import run_predict

        return run_predict(
            args.files, as_json=args.json, model_path=args.model, recursive=args.recursive
        )
    if args.command in ("models", "retrain", "scheduler"):
        import redis

        connection = redis.Redis.from_url(settings.require_redis_url(), socket_connect_timeout=3)
        if args.command == "scheduler":
            from digitbot.cron import CronSchedule
            from digitbot.scheduler import RetrainScheduler

            configure_logging("scheduler")
            schedule = CronSchedule.parse(settings.retrain_cron)
            return RetrainScheduler(connection, schedule).run()
        from digitbot.models_cli import run_models, run_retrain

        if args.command == "retrain":
            return run_retrain(connection)
        return run_models(connection, args.action, args.version)
    if args.command == "evaluate":
        from pathlib import Path

        from training.evaluate import run_evaluate

        configure_logging("evaluate")  # progress lines, where stderr is not a terminal

        if not (args.photos or args.misses or args.styles):
            from training.cross_source import run_cross_source

            sources = [s.strip() for s in args.sources.split(",") if s.strip()]
            run_cross_source(
                settings.home,
                n=args.n,
                draw=args.draw,
                model_path=Path(args.model) if args.model else None,
                sources=sources,
            )
            return 0

        run_evaluate(
            settings.home,
            n=args.n,
            draw=args.draw,
            baseline=not args.no_baseline,
            model_path=Path(args.model) if args.model else None,
            misses_dir=Path(args.misses) if args.misses else None,
            styles=args.styles,
        )
        return 0
    if args.command == "train":
        from training.commands import run_train

        configure_logging("train")
        return run_train(args)
    if args.command == "bench":
        from benchmarks.cli import run_bench

        return run_bench(args)
    raise AssertionError(f"unhandled command {args.command}")


def _check_input_files(args: argparse.Namespace) -> None:
    """A model file named on the command line that is not there is a usage error (exit 2),
    found before TensorFlow takes seconds to load."""
    for option, dest in (("--model", "model"), ("--init-from", "init_from")):
        value: Any = getattr(args, dest, None)
        if value and not os.path.isfile(value):
            what = "is a directory" if os.path.isdir(value) else "no such file"
            raise ConfigurationError(f"{option} {value}: {what}")


if __name__ == "__main__":
    raise SystemExit(main())
