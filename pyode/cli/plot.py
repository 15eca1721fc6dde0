"""`pyode plot FIGURE --train-dir DIR --out STEM`: a training figure drawn by R/ggplot2 via rpy2."""

from __future__ import annotations

import argparse

from pyode.cli import CLIError

# Listed here (not imported from pyode.interop) so that `pyode --help` never loads pandas or R.
FIGURES = ("losses", "accuracy", "nfe", "cost", "params")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "plot",
        help="draw a training figure (R/ggplot2 through rpy2)",
        description="Read the runs under --train-dir (DATASET/MODEL/{iterations.csv,epochs.csv,"
        "summary.json}) and write STEM.pdf and STEM.png with the installed R package pyode.",
    )
    parser.add_argument("figure", choices=FIGURES, help="the figure")
    parser.add_argument(
        "--train-dir", default="results/train", help="training runs folder (default results/train)"
    )
    parser.add_argument(
        "--out", required=True, metavar="STEM", help="output stem: writes STEM.pdf and STEM.png"
    )
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pyode.interop import InteropError, plot_training

    try:
        written = plot_training(args.figure, args.train_dir, args.out)
    except InteropError as exc:
        raise CLIError(str(exc)) from None
    for path in written:
        print(f"wrote {path}")
    return 0
