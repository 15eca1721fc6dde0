# The plan the rules read: pyode computes it once from the config (pyode/workflow_plan.py), and
# checks every setting on the way, stopping with one line per problem that names its config key.
import glob
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

min_version("9.0")

# The pyode package of this checkout, whatever else the environment has installed.
sys.path.insert(0, str(Path(workflow.basedir).resolve()))
from pyode import registry
from pyode.config_files import ConfigError
from pyode.workflow_plan import plan_workflow, workflow_profile, write_settings_file

try:
    # Without --configfile, the default profile config/config.yaml under the --config values.
    PROFILE = workflow_profile(config)
    PLAN = plan_workflow(PROFILE)
except ConfigError as error:
    problems = str(error).replace("\n", "\n  ")
    raise WorkflowError(f"invalid workflow configuration:\n  {problems}") from None
# The layout as the schema documents it (pyode has already named any problem it finds).
validate(PROFILE, "../schemas/config.schema.yaml")

RESULTS = PLAN.results
LOGS = f"{RESULTS}/logs"
BENCHMARKS = f"{RESULTS}/benchmarks"
RUN_WILDCARDS = PLAN.run_wildcards
# The software of every rule (`snakemake --sdm conda` builds it; paths are relative to this folder).
SOFTWARE_ENV = "../../environment.yml"
PAPER = f"{RESULTS}/report/paper.pdf"
PROVENANCE = f"{RESULTS}/report/provenance.json"
PAPER_SOURCES = ["report/paper.Rmd", "workflow/scripts/render_paper.R"]
# The experiments chapter is optional: the paper includes it only when the file exists.
EXPERIMENTS_CHILD = "report/experiments.Rmd"
# The R package that draws the figures and renders the paper (installed by `make setup`).
R_PACKAGE = "Rscripts/pyode"
R_PACKAGE_SOURCES = sorted(
    [f"{R_PACKAGE}/DESCRIPTION", f"{R_PACKAGE}/NAMESPACE"]
    + glob.glob(f"{R_PACKAGE}/R/*.R")
    + glob.glob(f"{R_PACKAGE}/inst/extdata/*")
)
FIGURE_SCRIPTS = ["Rscripts/figure.R", *R_PACKAGE_SOURCES]


def paper_sources(wildcards):
    child = [EXPERIMENTS_CHILD] if Path(EXPERIMENTS_CHILD).exists() else []
    return PAPER_SOURCES + child


def r_package_source(wildcards):
    """The package folder the R scripts check the installed package against."""
    return R_PACKAGE


wildcard_constraints:
    dataset="|".join(registry.dataset_names()),
    model="|".join(registry.model_names()),
    seed=r"\d+",
    figure="|".join(registry.TRAINING_FIGURES),
    name="|".join(registry.experiment_names()),
