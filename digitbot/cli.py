"""The `digitbot` command line. Each sub-command imports only what it needs, so `digitbot bot`
never loads TensorFlow."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from digitbot import __version__, defaults
from digitbot.errors import ConfigurationError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitbot", description="Read handwritten digits.")
    parser.add_argument("--version", action="version", version=f"digitbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run everything on this machine (embedded Redis if needed)")
    up.add_argument("--workers", type=int, default=1, help="recognition worker processes")
    up.add_argument("--redis-port", type=int, default=defaults.EMBEDDED_REDIS_PORT)
    up.add_argument("--web-port", type=int, default=defaults.WEB_PORT)

    bot = sub.add_parser("bot", help="run the Telegram bot (long polling, or --webhook)")
    bot.add_argument(
        "--webhook",
        metavar="URL",
        default=None,
        help="public https URL Telegram posts updates to (needs DIGITBOT_WEBHOOK_SECRET)",
    )
    bot.add_argument("--listen", default="127.0.0.1", help="webhook server address")
    bot.add_argument("--port", type=int, default=8443, help="webhook server port")

    web = sub.add_parser("web", help="serve the web page, status view and RQ dashboard")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=defaults.WEB_PORT)

    worker = sub.add_parser("worker", help="run RQ worker processes on this host")
    worker.add_argument("--processes", type=int, default=1)
    worker.add_argument(
        "--queues",
        default=defaults.QUEUE_RECOGNITION,
        help="comma-separated queue names (e.g. recognition,training)",
    )

    predict = sub.add_parser("predict", help="read digits in image files locally (no Redis)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")
    predict.add_argument("--model", default=None, help="a .keras file (default: shipped model)")
    predict.add_argument("files", nargs="+")

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
        default="mnist-files,benchmark,heldout",
        help="comma-separated sources for the table (default: all: mnist-files,benchmark,heldout)",
    )
    evaluate.add_argument("--n", type=int, default=200, help="photos per set")
    evaluate.add_argument(
        "--draw",
        type=int,
        default=0,
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

    models = sub.add_parser("models", help="list, show, promote or roll back model versions")
    models.add_argument("action", choices=["list", "show", "promote", "rollback", "history"])
    models.add_argument("version", nargs="?")

    sub.add_parser("retrain", help="queue a retraining of digitnet (deduplicated)")
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
    except ImportError:  # benchmarks/ lives in a checkout, not in an installed wheel
        pass
    else:
        add_bench_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "healthcheck":  # Docker reserves exit code 2: answer 0 or 1 only
        from digitbot.healthcheck import run as run_healthcheck

        return run_healthcheck(args)
    try:
        return dispatch(args)
    except ConfigurationError as exc:
        print(f"digitbot {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# Sub-commands that load TensorFlow in this process: it is imported first, quietly (see
# digitbot.quiet_native), so its native start-up lines never reach the terminal.
TENSORFLOW_COMMANDS = frozenset({"predict", "evaluate", "train", "bench"})


def dispatch(args: argparse.Namespace) -> int:
    from digitbot.logs import configure_logging
    from digitbot.settings import Settings

    settings = Settings.from_env()
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
        webhook = (
            WebhookOptions.from_args(args.webhook, args.listen, args.port) if args.webhook else None
        )
        return run(settings, webhook)
    if args.command == "worker":
        from worker.supervisor import WorkerPool

        configure_logging("worker")
        queues = [q.strip() for q in args.queues.split(",") if q.strip()]
        return WorkerPool(settings.require_redis_url(), queues, args.processes).run()
    if args.command == "predict":
        from worker.predict_cli import run_predict

        return run_predict(args.files, as_json=args.json, model_path=args.model)
    if args.command in ("models", "retrain", "scheduler"):
        import redis

        connection = redis.Redis.from_url(settings.require_redis_url(), socket_connect_timeout=3)
        if args.command == "scheduler":
            from digitbot.scheduler import RetrainScheduler, schedule_from_env

            configure_logging("scheduler")
            return RetrainScheduler(connection, schedule_from_env()).run()
        from digitbot.models_cli import run_models, run_retrain

        if args.command == "retrain":
            return run_retrain(connection)
        return run_models(connection, args.action, args.version)
    if args.command == "evaluate":
        from pathlib import Path

        from training.evaluate import run_evaluate

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


if __name__ == "__main__":
    raise SystemExit(main())
