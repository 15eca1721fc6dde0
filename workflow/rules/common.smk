# Configuration checks, settings resolution and the target lists every other rule file uses.
# Names (datasets, models, experiments, figures) come from pyode's registry and every job's
# settings from pyode's one configuration path (pyode/settings.py).
import copy
import glob
import json
import os
import sys
from pathlib import Path

import jsonschema
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# The pyode package of this checkout, whatever else the environment has installed.
sys.path.insert(0, str(Path(workflow.basedir).resolve()))
from pyode import registry
from pyode.settings import (
    ConfigError,
    check_renamed,
    data_dir,
    data_settings_path,
    experiment_settings_path,
    pipeline_config,
    resolve_workflow,
    run_path,
    run_settings_path,
    training_seeds,
    write_settings,
)

SCHEMA = "../schemas/config.schema.yaml"
DATASETS = list(registry.dataset_names())
MODELS = list(registry.model_names())
EXPERIMENTS = list(registry.experiment_names())
TRAINING_FIGURES = list(registry.TRAINING_FIGURES)
# The software of every rule (`snakemake --sdm conda` builds it; paths are relative to this folder).
SOFTWARE_ENV = "../../environment.yml"


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


def use_cli_profile_alone(cfg):
    """A profile given with --configfile replaces config/config.yaml instead of extending it, so that
    settings present only in the default profile (say train.mnist.mlp.epochs) never leak into it.
    """
    if workflow.overwrite_configfiles:
        cfg.clear()
        cfg.update(copy.deepcopy(workflow.config_settings.overwrite_config))


def invalid(problems):
    return WorkflowError("invalid workflow configuration:\n  " + "\n  ".join(problems))


use_cli_profile_alone(config)
try:
    # before the schema, which would call a renamed key unknown without naming its new name
    check_renamed(config)
except ConfigError as error:
    raise invalid([str(error)]) from None
validate_config(config)

RESULTS = str(config["results"]).rstrip("/")
RESOLVED_CONFIG = f"{RESULTS}/config/resolved.yaml"
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
try:
    # The configuration handed to pyode: workflow-only keys dropped, every data set's settings
    # complete (files it generates placed in RESULTS/data/NAME).
    PIPELINE_CONFIG = pipeline_config(config, RESULTS)
    # Every run's, experiment's and data set's validated settings, before any job starts.
    SETTINGS = resolve_workflow(PIPELINE_CONFIG)
except ConfigError as error:
    raise invalid([str(error)]) from None
RUNS = list(SETTINGS["runs"])  # (dataset, model, seed)
# Training seeds: with one, a run's folder is train/DATASET/MODEL; with several, one folder
# train/DATASET/MODEL/seed-N per seed (the `seed` wildcard of the training rules).
SEEDS = training_seeds(PIPELINE_CONFIG)
PER_SEED = len(SEEDS) > 1
RUN_WILDCARDS = run_path("{dataset}", "{model}", "{seed}" if PER_SEED else None)
USES_GPU = config["device"] == "cuda"


def write_yaml(path, obj, log):
    """Write `obj` as YAML atomically and note it in `log` (inside Snakemake's own process: no
    interpreter start-up for a few lines of YAML)."""
    write_settings(path, obj)
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    Path(log).write_text(f"wrote {path}\n")


def canonical(obj):
    """`obj` as JSON with sorted keys: params compare equal whatever the key order in the YAML."""
    return json.dumps(obj, sort_keys=True)


# Per-job settings files: the settings rules rewrite one only when its content changes (their params
# are that content), and each job's input is exactly the file its pyode command reads, so a config
# edit reruns only the jobs whose own settings changed.
def folder_seed(seed):
    """The seed as it appears in run paths: only when the profile trains several."""
    return seed if PER_SEED else None


def run_settings_file(dataset, model, seed):
    return run_settings_path(RESULTS, dataset, model, folder_seed(seed))


def data_settings_file(name):
    return data_settings_path(RESULTS, name)


def data_settings_of(wildcards):
    return canonical(SETTINGS["data"][wildcards.dataset])


def experiment_settings_file(name):
    return experiment_settings_path(RESULTS, name)


def run_key(wildcards):
    """The (dataset, model, seed) of a training job."""
    seed = int(wildcards.seed) if PER_SEED else SEEDS[0]
    return (wildcards.dataset, wildcards.model, seed)


def run_settings_of(wildcards):
    return canonical(SETTINGS["runs"][run_key(wildcards)])


def experiment_settings_of(wildcards):
    return canonical(SETTINGS["experiments"][wildcards.name])


def run_threads(wildcards):
    return int(SETTINGS["runs"][run_key(wildcards)]["threads"])


def run_dir(dataset, model, seed):
    return f"{RESULTS}/train/{run_path(dataset, model, folder_seed(seed))}"


RUN_FILES = list(registry.RUN_FILES)


def run_outputs(names=RUN_FILES):
    return [f"{run_dir(*run)}/{name}" for run in RUNS for name in names]


# Experiments: inputs, threads and resources from each one's registry entry.
def experiment_run_files(wildcards):
    """The training run an experiment evaluates (registry: needs_run), if any: the first seed's."""
    needs = registry.experiment(wildcards.name).needs_run
    return (
        [f"{run_dir(*needs, SEEDS[0])}/{file}" for file in RUN_FILES] if needs else []
    )


def experiment_run_flag(wildcards, input):
    return f"--run-dir {os.path.dirname(input.run[0])}" if input.run else ""


def experiment_threads(wildcards):
    """Processes an experiment runs side by side (e.g. the memory probes, experiments.memory.jobs)."""
    setting = registry.experiment(wildcards.name).parallel_setting
    return int(SETTINGS["experiments"][wildcards.name][setting]) if setting else 1


def experiment_gpu(wildcards):
    return 1 if USES_GPU and registry.experiment(wildcards.name).uses_gpu else 0


def experiment_mem_mb(wildcards):
    return registry.experiment(wildcards.name).mem_mb


def experiment_runtime(wildcards):
    return registry.experiment(wildcards.name).runtime


def data_summary(name):
    return f"{data_dir(RESULTS, name)}/summary.json"


def dataset_inputs(wildcards):
    """What a training run of this dataset needs from the data rule."""
    return [data_summary(wildcards.dataset)]


def figure_files(stems):
    return [
        f"{RESULTS}/figures/{stem}.{ext}" for stem in stems for ext in ("pdf", "png")
    ]


TRAINING_FIGURE_FILES = figure_files(TRAINING_FIGURES)
# Experiments without a figure of their own still run: the paper reads their summaries.
EXPERIMENT_FIGURE_FILES = figure_files(
    [f"experiment_{name}" for name in registry.experiment_names()]
)
EXPERIMENT_SUMMARIES = [
    f"{RESULTS}/experiments/{name}/summary.json" for name in EXPERIMENTS
]
PAPER = f"{RESULTS}/report/paper.pdf"
PROVENANCE = f"{RESULTS}/report/provenance.json"


PAPER_SOURCES = [
    "report/paper.Rmd",
    "workflow/scripts/render_paper.R",
]
# The experiments chapter is optional: the paper includes it only when the file exists.
EXPERIMENTS_CHILD = "report/experiments.Rmd"


def data_source_files(wildcards):
    """A data set's source file as an input, so that a new copy prepares it again: only a file
    that exists (a missing one must reach `pyode data prepare`, which says how to obtain it) and
    is not generated by the data rule itself (a synthetic source)."""
    path = SETTINGS["data"][wildcards.dataset].get("path")
    generated = os.path.abspath(data_dir(RESULTS, wildcards.dataset))
    if path and os.path.isfile(path):
        if os.path.dirname(os.path.abspath(path)) != generated:
            return [path]
    return []


def paper_sources(wildcards):
    child = [EXPERIMENTS_CHILD] if os.path.exists(EXPERIMENTS_CHILD) else []
    return PAPER_SOURCES + child


def data_summaries():
    """Descriptions of the data behind the configured runs."""
    return [data_summary(name) for name in SETTINGS["data"]]


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),
    seed=r"\d+",
    figure="|".join(TRAINING_FIGURES),
    name="|".join(EXPERIMENTS),


# ---- the R package that draws the figures and renders the paper ----

R_PACKAGE = "Rscripts/pyode"
R_PACKAGE_SOURCES = sorted(
    [f"{R_PACKAGE}/DESCRIPTION", f"{R_PACKAGE}/NAMESPACE"]
    + glob.glob(f"{R_PACKAGE}/R/*.R")
)
FIGURE_SCRIPTS = ["Rscripts/figure.R", *R_PACKAGE_SOURCES]


def r_package_source(wildcards):
    """The package folder the R scripts check the installed package against."""
    return R_PACKAGE
