"""`pyode train`: train one dataset × model pair as a training profile says."""

from __future__ import annotations

import argparse
import json

from pyode.train.config import load_profile, parse_assignments, resolve_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train one model and write its loss CSVs, summary and weights",
        description="Train one model. Settings: train.defaults <- train.DATASET.defaults <- "
                    "train.DATASET.MODEL of the profile, then --threads/--device/--quiet and "
                    "--set overrides.")
    parser.add_argument("--config", required=True, help="training profile (YAML)")
    parser.add_argument("--dataset", required=True, help="mnist or iceberg")
    parser.add_argument("--model", required=True, help="mlp, resnet, odenet or rknet")
    parser.add_argument("--out", required=True, help="run folder for the outputs")
    parser.add_argument("--data-path", default=None,
                        help="data file or folder (overrides the profile's data path)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--device", default=None, help="auto, cpu or cuda")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a setting, e.g. --set solver.rtol=1e-4 (repeatable)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the run folder's checkpoint when there is one")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pyode.train import train

    overrides = parse_assignments(args.overrides)
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.device is not None:
        overrides["device"] = args.device
    if args.quiet:
        overrides["quiet"] = True
    config = resolve_config(load_profile(args.config), args.dataset, args.model, overrides)
    summary = train(config, args.out, resume=args.resume, data_path=args.data_path)
    print(json.dumps({k: summary[k] for k in ("dataset", "model", "params",
                                              "final_test_accuracy", "total_seconds")}))
    return 0
