"""`pyode experiment NAME (--settings FILE | --config CONFIG) --out DIR [--run-dir RUN]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from pyode.cli import CLIError
from pyode.cli.checks import check_out_folder, check_training_run
from pyode.experiments import EXPERIMENTS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "experiment",
        help="run a continuous-time experiment",
        description="Run one experiment with the settings of the config's experiments.NAME block; "
        "write its CSVs and summary.json to --out.",
    )
    parser.add_argument("name", choices=EXPERIMENTS, help="the experiment")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--settings", help="experiment settings file (results/config/experiments/NAME.yaml)"
    )
    source.add_argument("--config", help="config YAML (experiments.NAME block)")
    parser.add_argument("--out", required=True, help="output folder, e.g. results/experiments/NAME")
    parser.add_argument(
        "--run-dir", default=None, help="training run folder (tolerance: summary.json + model.pt)"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override one setting of the experiment (YAML value), repeatable",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.set_defaults(func=handle)


def handle(args: argparse.Namespace) -> int:
    from pyode.config_files import check_finite
    from pyode.experiments import NEEDS_RUN_DIR, run
    from pyode.experiments.common import ExperimentError
    from pyode.experiments.settings import ExperimentConfigError, load, load_settings_file
    from pyode.planner import load_checked_profile

    if args.threads is not None:
        if args.threads < 1:
            raise CLIError(f"--threads must be >= 1, got {args.threads}")
        from pyode.threads import set_torch_threads

        set_torch_threads(args.threads)
    if args.name in NEEDS_RUN_DIR and args.run_dir is None:
        raise CLIError(f"experiment '{args.name}' needs --run-dir (a training run folder)")
    check_out_folder(args.out)
    if args.run_dir is not None:
        check_training_run(args.run_dir)
    try:
        if args.settings is not None:
            settings = load_settings_file(args.settings, args.name, args.overrides)
        else:
            # The whole profile, as the workflow checks it: an unknown key anywhere is an error.
            if Path(args.config).is_file():
                load_checked_profile(args.config)
            settings = load(args.config, args.name, args.overrides)
        check_finite(settings, f"experiments.{args.name}")
        summary = run(args.name, settings, args.out, args.run_dir)
    except (ExperimentConfigError, ExperimentError) as exc:
        raise CLIError(str(exc)) from None
    print(f"{args.name}: wrote {Path(args.out) / 'summary.json'} ({summary['seconds']:.1f} s)")
    return 0
