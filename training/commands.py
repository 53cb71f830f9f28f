"""The `train` command: one architecture, or all of them with a comparison table.

TensorFlow is imported only when the command runs, so building the CLI stays light.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digitbot.errors import DigitbotError
from digitbot.settings import Settings

COMPARISON_FILE = "comparison.md"


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
        help="architecture to train, one of: mlp, mlp-dropout, one-hidden, lenet5, cnn-small, "
        "cnn, digitnet (training.architectures.ARCHITECTURES)",
    )
    which.add_argument(
        "--all-archs", action="store_true", help="train every architecture and compare them"
    )
    parser.add_argument(
        "--epochs", type=positive_int, help="override the recipe's epochs (default: the recipe's)"
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        help="override the batch size (default: the recipe's)",
    )
    parser.add_argument(
        "--no-augment", action="store_true", help="train on plain MNIST, no augmentation"
    )
    parser.add_argument(
        "--limit",
        type=positive_int,
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
    parser.add_argument("--quiet", action="store_true", help="no Keras progress bars")
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
    results = []
    try:
        for name in names:
            result = train(
                name,
                home=home,
                epochs=args.epochs,
                batch_size=args.batch_size,
                augment=False if args.no_augment else None,
                limit=args.limit,
                seed=args.seed,
                photo_crops=recipe,
                verbose=0 if args.quiet else 1,
                init_from=Path(args.init_from) if args.init_from else None,
                learning_rate=args.learning_rate,
            )
            results.append(result.metrics)
            print(
                f"{result.version}: test accuracy {result.test_accuracy:.2%}, "
                f"report in {result.out_dir}"
            )
    except DigitbotError as error:
        logging.getLogger(__name__).error("%s", error)
        print(f"error: {error}")
        return 2
    if args.all_archs:
        table = comparison_table(results)
        print(table)
        write_comparison(home, table)
    return 0


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
