# One figure of the training runs, as PDF and PNG.
#
# Usage: Rscript --vanilla Rscripts/plot_training.R FIGURE TRAIN_DIR OUT_STEM
#   FIGURE    losses | accuracy | nfe | cost | params
#   TRAIN_DIR results/train (runs in TRAIN_DIR/DATASET/MODEL/)
#   OUT_STEM  results/figures/FIGURE (writes OUT_STEM.pdf and OUT_STEM.png)
#
# Works from any working directory: helpers.R and figures.R are found next to this script.

script_dir <- function() {
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1) {
    return(dirname(normalizePath(sub("^--file=", "", file_arg))))
  }
  from_env <- Sys.getenv("PYODE_RSCRIPTS", "")
  if (nzchar(from_env)) from_env else "Rscripts"
}

main <- function(args) {
  if (length(args) != 3) {
    stop("usage: plot_training.R FIGURE TRAIN_DIR OUT_STEM", call. = FALSE)
  }
  here <- script_dir()
  source(file.path(here, "helpers.R"))
  source(file.path(here, "figures.R"))
  training_figure_spec(args[[1]])  # an unknown name fails before any file is read
  runs <- read_runs(args[[2]])
  written <- save_training_figure(args[[1]], runs, args[[3]])
  cat(sprintf("wrote %s\n", written), sep = "")
}

if (sys.nframe() == 0L) {
  status <- tryCatch(
    {
      main(commandArgs(trailingOnly = TRUE))
      0L
    },
    error = function(e) {
      message("plot_training.R: error: ", conditionMessage(e))
      1L
    }
  )
  quit(save = "no", status = status)
}
