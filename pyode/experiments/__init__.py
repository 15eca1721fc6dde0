"""Continuous-time experiments of Chen et al. (2018), each writing CSVs and a summary.json.

`pyode.registry.EXPERIMENTS` lists them, each with its CSV files (and their columns), its figure
size and its settings (table, tiny sizes, cross-setting check); experiment NAME is the module
`pyode.experiments.NAME` with `run(settings, out_dir, run_dir)`, which starts an `ExperimentRun`
(`pyode.experiments.common`), writes its declared CSVs through it and finishes with summary.json;
experiments that train use the one loop `pyode.experiments.common.train`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyode import registry
from pyode.experiments.settings import (
    ExperimentConfigError,
    defaults,
    experiment_module,
    load,
    validate,
)

EXPERIMENTS = registry.experiment_names()
NEEDS_RUN_DIR = frozenset(e.name for e in registry.EXPERIMENTS if e.needs_run is not None)

__all__ = ["EXPERIMENTS", "ExperimentConfigError", "defaults", "load", "run", "validate"]


def run(
    name: str,
    settings: dict[str, Any] | None,
    out_dir: str | Path,
    run_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run experiment `name` with `settings` (validated against its defaults) into `out_dir`.

    Returns the summary written to `out_dir/summary.json`. `run_dir` is the training run folder that
    `tolerance` evaluates (summary.json + model.pt).
    """
    resolved = validate(name, settings)
    if name in NEEDS_RUN_DIR and run_dir is None:
        raise ExperimentConfigError(f"experiment '{name}' needs a training run folder (run_dir)")
    # No folder is created up front: outputs are written atomically at the end (creating it), so a
    # failed run leaves nothing behind.
    run_folder = Path(run_dir) if run_dir is not None else None
    return experiment_module(name).run(resolved, Path(out_dir), run_folder)
