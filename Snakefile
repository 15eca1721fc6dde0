# pyode: reproduce Chen et al. (2018), Neural Ordinary Differential Equations, from data to paper.
#   snakemake --cores 4                                   offline default profile (config/config.yaml)
#   snakemake --cores 4 --configfile config/paper.yaml    full scale
#   snakemake --profile profiles/slurm --configfile config/paper.yaml    on a Slurm cluster
# A profile given with --configfile replaces config/config.yaml (pyode/workflow_plan.py loads
# the default only when no profile is given), so its settings never mix with the default's.


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/settings.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/experiments.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        PAPER,
        PROVENANCE,
        PLAN.training_figures(),
        PLAN.experiment_figures(),
