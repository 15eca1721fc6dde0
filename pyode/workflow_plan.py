"""The Snakemake workflow's plan, computed once from its config: runs, seeds, the per-job settings
files and their contents, resources and the paths the rules name.

workflow/rules/common.smk builds one `WorkflowPlan` with `plan_workflow`; the rules read it through
their input functions. A config without a `profile` key (every profile names itself) is laid over
the default profile config/config.yaml; a profile given with `--configfile` is used alone, so that
settings of the default (say train.mnist.mlp.epochs) never leak into it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyode import registry
from pyode.config_files import deep_merge, load_yaml, write_settings
from pyode.layout import (
    data_dir,
    data_settings_path,
    experiment_dir,
    experiment_settings_path,
    run_dir,
    run_path,
    run_settings_path,
    settings_path,
)
from pyode.planner import PipelineConfig, pipeline_config, resolve_workflow
from pyode.profile import WORKFLOW_REQUIRED, check_top_level, training_seeds

DEFAULT_PROFILE = "config/config.yaml"


def workflow_profile(config: Mapping[str, Any], default: str = DEFAULT_PROFILE) -> dict[str, Any]:
    """The profile the workflow runs: `config` alone when it names itself (`profile`, as every
    profile given with --configfile does), else laid over the default profile."""
    if "profile" in config:
        return dict(config)
    return deep_merge(load_yaml(default), config)


def canonical(obj: Any) -> str:
    """`obj` as JSON with sorted keys: the settings rule's params, equal whatever the key order."""
    return json.dumps(obj, sort_keys=True)


def write_settings_file(path: str, content: str, log: str) -> None:
    """Write a settings file from its canonical JSON and note it in `log`."""
    write_settings(path, json.loads(content))
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    Path(log).write_text(f"wrote {path}\n")


@dataclass
class WorkflowPlan:
    results: str
    pipeline: PipelineConfig  # the profile as pyode sees it (RESULTS/config/resolved.yaml)
    jobs: dict[str, dict[Any, dict[str, Any]]]  # resolve_workflow: runs, experiments, data
    seeds: list[int]
    uses_gpu: bool
    per_seed: bool = field(init=False)  # one run folder seed-N per seed when there are several
    runs: list[tuple[str, str, int]] = field(init=False)  # (dataset, model, seed)
    # Settings file key (layout.settings_path) -> its content as canonical JSON.
    settings_files: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.per_seed = len(self.seeds) > 1
        self.runs = list(self.jobs["runs"])
        files: dict[str, Mapping[str, Any]] = {"resolved": self.pipeline}
        files |= {f"runs/{run_path(d, m, self.folder_seed(s))}": settings
                  for (d, m, s), settings in self.jobs["runs"].items()}
        files |= {f"data/{name}": settings for name, settings in self.jobs["data"].items()}
        files |= {f"experiments/{name}": s for name, s in self.jobs["experiments"].items()}
        self.settings_files = {key: canonical(value) for key, value in files.items()}

    # ---- paths
    def folder_seed(self, seed: int | str) -> int | str | None:
        """The seed as it appears in run paths: only when the profile trains several."""
        return seed if self.per_seed else None

    @property
    def run_wildcards(self) -> str:
        """DATASET/MODEL, or DATASET/MODEL/seed-N: the training rules' wildcards."""
        return run_path("{dataset}", "{model}", self.folder_seed("{seed}"))

    def settings_file(self, key: str) -> str:
        return settings_path(self.results, key)

    def run_settings_file(self) -> str:
        return run_settings_path(self.results, "{dataset}", "{model}", self.folder_seed("{seed}"))

    def data_settings_file(self) -> str:
        return data_settings_path(self.results, "{dataset}")

    def experiment_settings_file(self) -> str:
        return experiment_settings_path(self.results, "{name}")

    def run_outputs(self, names: tuple[str, ...] = registry.RUN_FILES) -> list[str]:
        return [f"{run_dir(self.results, d, m, self.folder_seed(s))}/{name}"
                for d, m, s in self.runs for name in names]

    def data_summaries(self) -> list[str]:
        """Descriptions of the data behind the configured runs."""
        return [f"{data_dir(self.results, name)}/summary.json" for name in self.jobs["data"]]

    def experiment_summaries(self) -> list[str]:
        return [f"{experiment_dir(self.results, n)}/summary.json"
                for n in registry.experiment_names()]

    def figures(self, stems: list[str]) -> list[str]:
        return [f"{self.results}/figures/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")]

    def training_figures(self) -> list[str]:
        return self.figures(list(registry.TRAINING_FIGURES))

    def experiment_figures(self) -> list[str]:
        # Experiments without a figure of their own still run: the paper reads their summaries.
        return self.figures([f"experiment_{name}" for name in registry.experiment_names()])

    # ---- what one job needs
    def run_key(self, dataset: str, model: str, seed: str | None) -> tuple[str, str, int]:
        return (dataset, model, int(seed) if self.per_seed and seed is not None else self.seeds[0])

    def run_threads(self, dataset: str, model: str, seed: str | None = None) -> int:
        return int(self.jobs["runs"][self.run_key(dataset, model, seed)]["threads"])

    def experiment_run_files(self, name: str) -> list[str]:
        """The training run an experiment evaluates (registry: needs_run), the first seed's."""
        needs = registry.experiment(name).needs_run
        if needs is None:
            return []
        folder = run_dir(self.results, *needs, self.folder_seed(self.seeds[0]))
        return [f"{folder}/{file}" for file in registry.RUN_FILES]

    def experiment_threads(self, name: str) -> int:
        """Processes an experiment runs side by side (e.g. experiments.memory.jobs)."""
        setting = registry.experiment(name).parallel_setting
        return int(self.jobs["experiments"][name][setting]) if setting else 1

    def experiment_gpu(self, name: str) -> int:
        return 1 if self.uses_gpu and registry.experiment(name).uses_gpu else 0

    def data_source_files(self, dataset: str) -> list[str]:
        """A data set's source file as an input, so that a new copy prepares it again: only a file
        that exists (a missing one must reach `pyode data prepare`, which says how to obtain it)
        and is not generated by the data rule itself (a synthetic source)."""
        path = self.jobs["data"][dataset].get("path")
        generated = os.path.abspath(data_dir(self.results, dataset))
        if path and os.path.isfile(path) and os.path.dirname(os.path.abspath(path)) != generated:
            return [path]
        return []


def plan_workflow(config: Mapping[str, Any]) -> WorkflowPlan:
    """The plan of a workflow profile (`workflow_profile`), or a ConfigError of one line per
    problem, each naming its config key."""
    check_top_level(config, required=WORKFLOW_REQUIRED)
    results = str(config.get("results", "results")).rstrip("/")
    pipeline = pipeline_config(config, results)
    return WorkflowPlan(results, pipeline, resolve_workflow(pipeline), training_seeds(pipeline),
                        uses_gpu=config.get("device") == "cuda")
