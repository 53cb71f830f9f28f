"""The `train` command: one architecture, or all of them with a comparison table.

TensorFlow is imported only when the command runs, so building the CLI stays light. Results
(each model's line, the comparison table) go to stdout; progress goes to stderr: Keras' own bar
on a terminal, plain log lines elsewhere (no carriage returns or ANSI codes in a log file).
Errors are raised for digitbot.cli's one-line error handler.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digitbot.settings import Settings

log = logging.getLogger(__name__)

COMPARISON_FILE = "comparison.md"
# training.architectures.ARCHITECTURES' names, here so that `--arch` offers them as choices
# without loading Keras (tests/test_cli.py keeps the two equal).
ARCHITECTURE_NAMES = ("mlp", "mlp-dropout", "one-hidden", "lenet5", "cnn-small", "cnn", "digitnet")


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `train` to an argparse subparsers object and return its parser."""
    parser = subparsers.add_parser(
        "train",
        help="train a model on MNIST and write its report under $DIGITBOT_HOME/reports/",
        description="Train an architecture on MNIST, evaluate it on the test set and write "
        "model.keras, metrics.json, plots and TensorBoard logs under $DIGITBOT_HOME/reports/.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--arch",
        choices=ARCHITECTURE_NAMES,
        metavar="NAME",
        help="architecture to train, one of: %(choices)s (training/architectures.py)",
    )
    which.add_argument(
        "--all-archs", action="store_true", help="train every architecture and compare them"
    )
    parser.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help="override the recipe's epochs (default: the recipe's)",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="override the batch size (default: the recipe's)",
    )
    parser.add_argument(
        "--no-augment", action="store_true", help="train on plain MNIST, no augmentation"
    )
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="use only the first N training images, for smoke runs (default: all 60,000)",
    )
    parser.add_argument(
        "--photo-digits",
        type=positive_int,
        metavar="N",
        help="also train on crops read from N rendered photos of MNIST training digits",
    )
    parser.add_argument(
        "--photo-negatives",
        type=positive_int,
        metavar="N",
        help="and on crops from N photos with no digit: adds the 'not a digit' class",
    )
    parser.add_argument(
        "--photo-low-resolution",
        type=positive_int,
        metavar="N",
        help="and on crops from N more photos of digits first brought down to 8x8",
    )
    parser.add_argument(
        "--photo-styled",
        type=positive_int,
        metavar="N",
        help="and on crops from N photos of 1s and 7s in continental handwriting",
    )
    parser.add_argument(
        "--placed-digits",
        type=positive_int,
        metavar="N",
        help="and on crops from N pictures of MNIST training digits placed as they are, "
        "enlarged, blurred, tilted or tiny (training.placed_digits)",
    )
    parser.add_argument(
        "--placed-negatives",
        type=positive_int,
        metavar="N",
        help="and on crops from N such pictures of non-digits or of no mark",
    )
    parser.add_argument(
        "--init-from",
        metavar="MODEL",
        help="fine-tune this .keras model (e.g. digitbot/models/champion.keras) instead of "
        "training a new one",
    )
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=1e-4,
        help="constant learning rate with --init-from (default: %(default)g)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no training progress (default: a bar on a terminal, else a line per epoch)",
    )
    parser.set_defaults(handler=run_train)
    return parser


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def run_train(args: argparse.Namespace) -> int:
    """Run the parsed `train` command; return the process exit status."""
    from training.architectures import ARCHITECTURES
    from training.photo_crops import CropRecipe
    from training.train import train

    home = Settings.from_env().home
    recipe = None
    counts = (
        args.photo_digits,
        args.photo_negatives,
        args.photo_low_resolution,
        args.photo_styled,
        args.placed_digits,
        args.placed_negatives,
    )
    if any(counts):
        recipe = CropRecipe(
            args.photo_digits or 0,
            args.photo_negatives or 0,
            num_low_resolution_photos=args.photo_low_resolution or 0,
            num_styled_photos=args.photo_styled or 0,
            num_placed_photos=args.placed_digits or 0,
            num_placed_negative_photos=args.placed_negatives or 0,
        )
    names = list(ARCHITECTURES) if args.all_archs else [args.arch]
    verbose, callbacks = progress_display(quiet=args.quiet, stream=sys.stderr)
    results = []
    for name in names:
        # Whatever training writes to stdout (Keras' bar does) is progress: it goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            result = train(
                name,
                home=home,
                epochs=args.epochs,
                batch_size=args.batch_size,
                augment=False if args.no_augment else None,
                limit=args.limit,
                seed=args.seed,
                photo_crops=recipe,
                verbose=verbose,
                callbacks=callbacks,
                init_from=Path(args.init_from) if args.init_from else None,
                learning_rate=args.learning_rate,
            )
        results.append(result.metrics)
        print(
            f"{result.version}: test accuracy {result.test_accuracy:.2%}, "
            f"report in {result.out_dir}",
            flush=True,
        )
    if args.all_archs:
        table = comparison_table(results)
        print(table)
        write_comparison(home, table)
    return 0


def progress_display(*, quiet: bool, stream: Any) -> tuple[int, list[Any]]:
    """Keras' `verbose` and the callbacks that show training progress: Keras' own bar where
    `stream` is a terminal, plain lines (training.progress_bar) elsewhere, nothing if quiet."""
    if quiet:
        return 0, []
    if getattr(stream, "isatty", lambda: False)():
        return 1, []
    from training.progress_bar import plain_epoch_lines

    return 0, [plain_epoch_lines(log)]


def comparison_table(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of test accuracy against the published figure, size and speed."""
    lines = [
        "| name | test accuracy | published | params | train time | ms/image (call) "
        "| ms/image (predict) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        published = row.get("published_accuracy")
        lines.append(
            f"| {row['arch']} | {row['test_accuracy']:.2%} "
            f"| {'—' if published is None else f'{published:.2%}'} "
            f"| {row['params']:,} | {row['train_seconds']:.0f} s "
            f"| {row['ms_per_image']:.2f} | {row['ms_per_image_predict']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def write_comparison(home: Path, table: str) -> Path:
    path = home / "reports" / COMPARISON_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Architectures on the MNIST test set\n\n" + table)
    return path
