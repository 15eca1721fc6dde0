"""The configuration path's public names in one import (the README, config/README.md, the tests).

Each name lives in its own layer: `pyode.config_files` (errors, YAML, merging, `--set`),
`pyode.profile` (the top level of a profile), `pyode.layout` (paths below the results folder)
and `pyode.planner` (a whole profile resolved into every job's settings).
"""

from __future__ import annotations

from pyode.config_files import (
    RENAMED_KEYS,
    ConfigError,
    check_finite,
    check_renamed,
    deep_merge,
    load_yaml,
    nest,
    parse_assignments,
    write_settings,
)
from pyode.layout import (
    data_dir,
    data_settings_path,
    experiment_settings_path,
    run_path,
    run_settings_path,
)
from pyode.planner import check_profile, data_blocks, describe, pipeline_config, resolve_workflow
from pyode.profile import SCALES, WORKFLOW_ONLY_KEYS, configured_runs, is_tiny, training_seeds

__all__ = [
    "RENAMED_KEYS", "SCALES", "WORKFLOW_ONLY_KEYS", "ConfigError", "check_finite",
    "check_profile", "check_renamed", "configured_runs", "data_blocks", "data_dir",
    "data_settings_path", "deep_merge", "describe", "experiment_settings_path", "is_tiny",
    "load_yaml", "nest", "parse_assignments", "pipeline_config", "resolve_workflow", "run_path",
    "run_settings_path", "training_seeds", "write_settings",
]
