# Configuration checks, settings resolution and the target lists every other rule file uses.
import copy
import json
import os
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

SCHEMA = "../schemas/config.schema.yaml"
DATASETS = ["mnist", "iceberg"]
MODELS = ["mlp", "resnet", "odenet", "rknet"]
EXPERIMENTS = ["spiral", "latent", "tolerance", "memory", "euler"]
TRAINING_FIGURES = ["losses", "accuracy", "nfe", "cost", "params"]
# The software of every rule (`snakemake --sdm conda` builds it; paths are relative to this folder).
SOFTWARE_ENV = "../../environment.yml"
# Settings that only steer the workflow and mean nothing to `pyode train` / `pyode experiment`.
WORKFLOW_ONLY_KEYS = ["results"]


def _config_key(path):
    return ".".join(str(part) for part in path) or "<top level>"


def config_errors(cfg, schema_path):
    """Every schema violation of `cfg` as one line naming the config key."""
    with open(schema_path) as handle:
        schema = yaml.safe_load(handle)
    validator = jsonschema.Draft202012Validator(schema)
    lines = []
    for error in sorted(
        validator.iter_errors(cfg), key=lambda e: list(map(str, e.path))
    ):
        key = _config_key(error.absolute_path)
        if error.validator == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            unknown = sorted(set(error.instance) - set(allowed))
            lines.append(
                f"config key '{key}': unknown key(s) {', '.join(map(repr, unknown))} "
                f"(allowed: {', '.join(allowed)})"
            )
        else:
            lines.append(f"config key '{key}': {error.message}")
    return lines


def validate_config(cfg):
    """Validate against the schema (filling defaults) or stop with one line per problem."""
    try:
        validate(cfg, SCHEMA)
    except WorkflowError:
        schema_path = (
            Path(workflow.current_basedir.get_path_or_uri(secret_free=True)) / SCHEMA
        )
        problems = config_errors(cfg, schema_path) or [f"see the schema {SCHEMA}"]
        raise WorkflowError(
            "invalid workflow configuration:\n  " + "\n  ".join(problems)
        ) from None


def deep_merge(base, override):
    """A copy of `base` with `override` merged in, nested mappings key by key."""
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def use_cli_profile_alone(cfg):
    """A profile given with --configfile replaces config/config.yaml instead of extending it, so that
    settings present only in the default profile (say train.mnist.mlp.epochs) never leak into it.
    """
    if workflow.overwrite_configfiles:
        cfg.clear()
        cfg.update(copy.deepcopy(workflow.config_settings.overwrite_config))


use_cli_profile_alone(config)
validate_config(config)

RESULTS = str(config["results"]).rstrip("/")
RESOLVED_CONFIG = f"{RESULTS}/config/resolved.yaml"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
ICEBERG_SOURCE = config["data"]["iceberg"]["source"]
# Synthetic iceberg data is generated inside the results folder; Kaggle's file is used where it lies.
ICEBERG_FILE = (
    f"{RESULTS}/data/iceberg/train.json"
    if ICEBERG_SOURCE == "synthetic"
    else config["data"]["iceberg"]["path"]
)
RUNS = [
    (dataset, model)
    for dataset in DATASETS
    for model in config["runs"].get(dataset, [])
]
USES_GPU = config["device"] == "cuda"


def resolved_config():
    """The configuration handed to pyode: the validated config, data paths made concrete."""
    resolved = {
        k: copy.deepcopy(v) for k, v in config.items() if k not in WORKFLOW_ONLY_KEYS
    }
    resolved["data"]["iceberg"]["path"] = ICEBERG_FILE
    return resolved


def run_settings(dataset, model):
    """train.defaults <- train.<dataset>.defaults <- train.<dataset>.<model>."""
    per_dataset = config["train"].get(dataset, {})
    settings = deep_merge(config["train"]["defaults"], per_dataset.get("defaults", {}))
    return deep_merge(settings, per_dataset.get(model, {}))


def write_yaml(path, obj, log):
    """Write `obj` as YAML atomically (temporary sibling, then rename) and note it in `log`.
    Runs inside Snakemake's own process: no interpreter start-up for a few lines of YAML.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(
            "# Written by the workflow from the config; edit config/*.yaml instead.\n"
        )
        yaml.safe_dump(obj, handle, sort_keys=False, default_flow_style=False)
    os.replace(tmp, target)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    Path(log).write_text(f"wrote {target}\n")


def canonical(obj):
    """`obj` as JSON with sorted keys: params compare equal whatever the key order in the YAML."""
    return json.dumps(obj, sort_keys=True)


def run_fingerprint(wildcards):
    """Everything in the config that determines one training run."""
    return canonical(
        {
            "settings": run_settings(wildcards.dataset, wildcards.model),
            "data": resolved_config()["data"][wildcards.dataset],
            "profile": config["profile"],
            "seed": config["seed"],
            "device": config["device"],
        }
    )


def experiment_fingerprint_of(wildcards):
    """Everything in the config that determines one experiment."""
    return canonical(
        {
            "settings": config["experiments"].get(wildcards.name) or {},
            "seed": config["seed"],
            "device": config["device"],
        }
    )


# Per-job settings files. Jobs take RESOLVED_CONFIG as ancient() input (so rewriting it does not rerun
# everything) plus the settings file of their own part of the config: a config edit rewrites only the
# settings files whose content changed, and only the jobs reading those rerun.
def run_settings_file(dataset, model):
    return f"{RESULTS}/config/runs/{dataset}/{model}.yaml"


def experiment_settings_file(name):
    return f"{RESULTS}/config/experiments/{name}.yaml"


def run_threads(wildcards):
    return int(run_settings(wildcards.dataset, wildcards.model).get("threads", 1))


def run_dir(dataset, model):
    return f"{RESULTS}/train/{dataset}/{model}"


RUN_FILES = ["iterations.csv", "epochs.csv", "summary.json", "model.pt"]


def run_outputs(names=RUN_FILES):
    return [f"{run_dir(d, m)}/{name}" for d, m in RUNS for name in names]


def dataset_inputs(wildcards):
    """What a training run of this dataset needs from the data rules."""
    if wildcards.dataset == "mnist":
        return [f"{RESULTS}/data/mnist/summary.json"]
    return [f"{RESULTS}/data/iceberg/check.json"]


def figure_files(stems):
    return [
        f"{RESULTS}/figures/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")
    ]


TRAINING_FIGURE_FILES = figure_files(TRAINING_FIGURES)
EXPERIMENT_FIGURE_FILES = figure_files([f"experiment_{name}" for name in EXPERIMENTS])
EXPERIMENT_SUMMARIES = [
    f"{RESULTS}/experiments/{name}/summary.json" for name in EXPERIMENTS
]
PAPER = f"{RESULTS}/report/paper.pdf"
PROVENANCE = f"{RESULTS}/report/provenance.json"


PAPER_SOURCES = [
    "report/paper.Rmd",
    "workflow/scripts/render_paper.R",
    "Rscripts/helpers.R",
]
# The experiments chapter is optional: the paper includes it only when the file exists.
EXPERIMENTS_CHILD = "report/experiments.Rmd"


def mnist_path_flag():
    path = config["data"]["mnist"].get("path")
    return f"--path '{path}'" if path else ""


def iceberg_file_if_present(wildcards):
    """Kaggle's file as an input only when it exists: a missing file must reach `pyode data check`,
    which fails with instructions on how to obtain it, instead of a bare missing-input error.
    """
    if ICEBERG_SOURCE == "synthetic" or os.path.exists(ICEBERG_FILE):
        return [ICEBERG_FILE]
    return []


def data_path_flag(wildcards):
    """Iceberg runs read the file the data rules produced or checked; MNIST reads its source."""
    return f"--data-path '{ICEBERG_FILE}'" if wildcards.dataset == "iceberg" else ""


def paper_sources(wildcards):
    child = [EXPERIMENTS_CHILD] if os.path.exists(EXPERIMENTS_CHILD) else []
    return PAPER_SOURCES + child


def data_summaries():
    """Descriptions of the data behind the configured runs."""
    datasets = {dataset for dataset, _ in RUNS}
    files = []
    if "mnist" in datasets:
        files.append(f"{RESULTS}/data/mnist/summary.json")
    if "iceberg" in datasets:
        files.append(f"{RESULTS}/data/iceberg/check.json")
    return files


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),
    figure="|".join(TRAINING_FIGURES),
