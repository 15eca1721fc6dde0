# One figure of the workflow, as PDF and PNG, drawn by the installed R package pyode.
#
# Usage: Rscript --vanilla Rscripts/figure.R KIND NAME INPUT OUT_STEM [PACKAGE_SOURCE]
#   KIND            training | experiment
#   NAME            a training figure (losses, accuracy, ...) or an experiment (spiral, ...)
#   INPUT           results/train, or results/experiments/NAME
#   OUT_STEM        writes OUT_STEM.pdf and OUT_STEM.png
#   PACKAGE_SOURCE  the package's source folder: the installed package must be that source
pyode::figure_command(commandArgs(trailingOnly = TRUE))
