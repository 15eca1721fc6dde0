"""`pyode train`: train one dataset × model pair from a run settings file or a profile."""

from __future__ import annotations

import argparse
import json

from pyode import registry
from pyode.cli import CLIError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train one model and write its loss CSVs, summary and weights",
        description="Train one model. Settings: a run settings file (--settings, as the workflow "
                    "writes them), or train.defaults <- train.DATASET.defaults <- "
                    "train.DATASET.MODEL of a profile (--config with --dataset and --model); "
                    "then --threads/--device/--quiet and --set overrides.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--settings", help="run settings file (results/config/runs/D/M.yaml)")
    source.add_argument("--config", help="training profile (YAML)")
    parser.add_argument("--dataset", help=f"{' or '.join(registry.dataset_names())} "
                        "(with --config)")
    parser.add_argument("--model", help="mlp, resnet, odenet or rknet (with --config)")
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
    from pyode.config_files import parse_assignments
    from pyode.planner import load_checked_profile
    from pyode.train import train
    from pyode.train.config import load_run_settings, resolve_config

    overrides = parse_assignments(args.overrides)
    if args.threads is not None:
        overrides["threads"] = args.threads
    if args.device is not None:
        overrides["device"] = args.device
    if args.quiet:
        overrides["quiet"] = True
    if args.settings is not None:
        if args.dataset is not None or args.model is not None:
            raise CLIError("--dataset and --model come from the --settings file; give neither")
        config = load_run_settings(args.settings, overrides)
    else:
        if args.dataset is None or args.model is None:
            raise CLIError("--config needs --dataset and --model")
        # The whole profile, as the workflow checks it: an unknown key anywhere is an error.
        profile = load_checked_profile(args.config)
        config = resolve_config(profile, args.dataset, args.model, overrides)
    try:
        summary = train(config, args.out, resume=args.resume, data_path=args.data_path)
    except OSError as exc:  # a full disk, a folder gone read-only: the file and the reason
        if isinstance(exc, FileNotFoundError):
            raise
        from pyode.train.run_folder import describe_os_error

        raise CLIError(describe_os_error(exc)) from None
    print(json.dumps({k: summary[k] for k in ("dataset", "model", "params",
                                              "final_test_accuracy", "total_seconds")}))
    return 0
