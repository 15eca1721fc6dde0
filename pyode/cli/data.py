"""`pyode data`: generate, check, preview and prepare the data sets."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pyode.cli import CLIError
from pyode.data.mnist import MNIST_SOURCES


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("data", help="generate, check, preview and prepare data sets")
    commands = parser.add_subparsers(dest="data_command", required=True)

    synth = commands.add_parser("iceberg-synthetic",
                                help="write a synthetic Kaggle-format iceberg train.json")
    synth.add_argument("--out", required=True, type=Path, help="output .json file")
    synth.add_argument("--seed", required=True, type=int)
    synth.add_argument("--n", type=int, default=1604, help="number of records (default 1604)")
    synth.set_defaults(func=_iceberg_synthetic)

    check = commands.add_parser("check", help="validate a Kaggle-format file or an MNIST IDX "
                                              "folder and summarise it")
    check.add_argument("path", type=Path)
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(func=_check)

    preview = commands.add_parser("preview", help="draw a labelled grid of images as PNG")
    kinds = preview.add_subparsers(dest="dataset", required=True)
    ice = kinds.add_parser("iceberg", help="chips of a Kaggle-format file")
    ice.add_argument("path", type=Path)
    mnist = kinds.add_parser("mnist", help="digits of an MNIST source")
    mnist.add_argument("--source", required=True, choices=MNIST_SOURCES)
    mnist.add_argument("--path", type=Path, default=None)
    for sub in (ice, mnist):
        sub.add_argument("--out", required=True, type=Path, help="output .png file")
        sub.add_argument("--n", type=int, default=16, help="number of images (default 16)")
        sub.set_defaults(func=_preview)

    any_prep = commands.add_parser(
        "prepare", help="generate what a data set needs, check it and write DIR/summary.json")
    any_prep.add_argument("dataset", help="a data set of pyode's registry (mnist, iceberg, ...)")
    any_prep.add_argument("--settings", required=True, type=Path,
                          help="its settings file (RESULTS/config/data/NAME.yaml)")
    any_prep.add_argument("--out", required=True, type=Path, help="output folder")
    any_prep.set_defaults(func=_prepare)

    prep = commands.add_parser("prepare-mnist", help="load MNIST and write DIR/summary.json")
    prep.add_argument("--source", required=True, choices=MNIST_SOURCES)
    prep.add_argument("--path", type=Path, default=None)
    prep.add_argument("--out", required=True, type=Path, help="output folder")
    prep.set_defaults(func=_prepare_mnist)


def _positive(name: str, value: int) -> None:
    if value < 1:
        raise CLIError(f"--{name} must be a positive integer, got {value}")


def _iceberg_synthetic(args: argparse.Namespace) -> int:
    from pyode.data.iceberg_synthetic import write_synthetic

    _positive("n", args.n)
    write_synthetic(args.out, n=args.n, seed=args.seed)
    print(f"wrote {args.n} synthetic records (seed {args.seed}) to {args.out}")
    return 0


def _idx_summary(folder: Path) -> dict[str, Any]:
    import numpy as np

    from pyode.data.idx import find_mnist_files, read_image_label_pair

    out: dict[str, Any] = {"folder": str(folder), "format": "mnist-idx"}
    for split, (images_path, labels_path) in find_mnist_files(folder).items():
        images, labels = read_image_label_pair(images_path, labels_path)
        out[split] = {
            "images": len(labels),
            "files": [images_path.name, labels_path.name],
            "class_counts": np.bincount(labels, minlength=10).tolist(),
            "mean_pixel": round(float(images.mean(dtype=np.float64)) / 255.0, 5),
        }
    out["image_size"] = [28, 28]
    return out


def _check(args: argparse.Namespace) -> int:
    if args.path.is_dir():
        summary = _idx_summary(args.path)
    else:
        from pyode.data.iceberg import load_records, summarize

        summary = summarize(load_records(args.path))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"{args.path}: OK")
        for key, value in summary.items():
            print(f"  {key}: {value}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from pyode.data.preview import preview_iceberg, preview_mnist

    _positive("n", args.n)
    if args.dataset == "iceberg":
        preview_iceberg(args.path, args.out, n=args.n)
    else:
        preview_mnist(args.source, args.path, args.out, n=args.n)
    print(f"wrote {args.out}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from pyode.config_files import ConfigError, load_yaml
    from pyode.data import data_settings

    block = load_yaml(args.settings)
    try:
        settings = data_settings(args.dataset, block)
    except ConfigError as exc:
        raise ConfigError(f"{args.settings}: {exc}") from None
    return _write_summary(args.dataset, settings, args.out)


def _prepare_mnist(args: argparse.Namespace) -> int:
    from pyode.data import data_settings

    settings = data_settings("mnist", {"source": args.source,
                                       "path": None if args.path is None else str(args.path)})
    return _write_summary("mnist", settings, args.out)


def _write_summary(name: str, settings: dict[str, Any], out: Path) -> int:
    from pyode.data import prepare_dataset

    prepare_dataset(name, settings, out)
    print(f"wrote {out / 'summary.json'}")
    return 0
