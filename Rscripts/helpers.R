# Shared pieces of every pyode figure: one model order and palette, one theme, atomic saving,
# and readers for the training runs under results/train/{dataset}/{model}/.
#
# Sourced by plot_training.R, plot_experiment.R, figures.R, the paper and pyode.interop (rpy2).

suppressPackageStartupMessages({
  library(ggplot2)
  library(dplyr)
  library(tidyr)
  library(readr)
  library(jsonlite)
})

# The folder holding these scripts: PYODE_RSCRIPTS, else the running script's folder
# (Rscript --file=...), else "Rscripts" relative to the working directory.
locate_rscripts <- function() {
  from_env <- Sys.getenv("PYODE_RSCRIPTS", "")
  if (nzchar(from_env)) {
    return(from_env)
  }
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1) {
    return(dirname(normalizePath(sub("^--file=", "", file_arg))))
  }
  "Rscripts"
}

# ---- models and datasets ------------------------------------------------------------------------

model_levels <- c("mlp", "resnet", "rknet", "odenet")
model_labels <- c(mlp = "MLP", resnet = "ResNet", rknet = "RK-Net", odenet = "ODE-Net")
# Okabe-Ito colours: distinguishable with colour-vision deficiencies and in greyscale print.
model_palette <- c(mlp = "#999999", resnet = "#E69F00", rknet = "#009E73", odenet = "#0072B2")

dataset_levels <- c("mnist", "iceberg")
dataset_labels <- c(mnist = "MNIST", iceberg = "Iceberg")

# A factor of model names in the fixed order; an unknown name is an error, not a silent NA.
model_factor <- function(model, what = "data") {
  model <- as.character(model)
  unknown <- setdiff(unique(model), model_levels)
  if (length(unknown) > 0) {
    stop(sprintf(
      "%s: unknown model(s) %s (expected one of %s)", what,
      paste0("'", unknown, "'", collapse = ", "), paste(model_levels, collapse = ", ")
    ), call. = FALSE)
  }
  factor(model, levels = model_levels)
}

# Known datasets first (mnist, iceberg), any other in alphabetical order; labelled for facets.
dataset_factor <- function(dataset) {
  dataset <- as.character(dataset)
  levels <- c(intersect(dataset_levels, dataset), sort(setdiff(unique(dataset), dataset_levels)))
  labels <- ifelse(levels %in% names(dataset_labels), dataset_labels[levels], levels)
  factor(dataset, levels = levels, labels = unname(labels))
}

scale_colour_model <- function(...) {
  scale_colour_manual(values = model_palette, labels = model_labels, breaks = model_levels, ...)
}

scale_fill_model <- function(...) {
  scale_fill_manual(values = model_palette, labels = model_labels, breaks = model_levels, ...)
}

theme_pyode <- function(base_size = 10) {
  theme_bw(base_size = base_size) +
    theme(
      panel.grid.minor = element_blank(),
      strip.background = element_rect(fill = "grey92", colour = NA),
      legend.position = "bottom",
      legend.title = element_blank(),
      plot.title.position = "plot"
    )
}

# ---- saving -------------------------------------------------------------------------------------

# Write stem.pdf and stem.png. Both are drawn to temporary files in the target folder first and
# renamed only when both succeeded, so a failure never leaves a partial or stale-looking pair.
save_figure <- function(plot, stem, width = 7, height = 4, dpi = 200) {
  if (!inherits(plot, "ggplot")) {
    stop("save_figure: 'plot' is not a ggplot", call. = FALSE)
  }
  out_dir <- dirname(stem)
  dir.create(out_dir, recursive = TRUE, showWarnings = FALSE)
  if (!dir.exists(out_dir)) {
    stop(sprintf("cannot create output folder %s", out_dir), call. = FALSE)
  }
  targets <- paste0(stem, c(".pdf", ".png"))
  tag <- paste0(".", basename(stem), ".", Sys.getpid(), ".", sample.int(1e6, 1), ".tmp")
  temps <- file.path(out_dir, paste0(tag, c(".pdf", ".png")))
  on.exit(unlink(temps[file.exists(temps)]), add = TRUE)
  ggsave(temps[[1]], plot, width = width, height = height, units = "in", device = "pdf")
  # png() uses getOption("bitmapType"): cairo where R has it, which needs no X11 display.
  ggsave(temps[[2]], plot, width = width, height = height, units = "in", dpi = dpi,
         device = "png")
  for (i in seq_along(targets)) {
    if (!file.rename(temps[[i]], targets[[i]])) {
      stop(sprintf("cannot write %s", targets[[i]]), call. = FALSE)
    }
  }
  invisible(targets)
}

# ---- reading runs -------------------------------------------------------------------------------

iterations_columns <- c(
  "epoch", "iteration", "images_seen", "loss", "loss_ewm", "lr", "nfe_forward", "nfe_backward",
  "seconds"
)
epochs_columns <- c(
  "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "nfe_forward_mean",
  "nfe_backward_mean", "epoch_seconds", "peak_memory_mb"
)
summary_keys <- c("params", "total_seconds", "final_test_accuracy", "best_test_accuracy", "epochs")

read_json_file <- function(path) {
  if (!file.exists(path)) {
    stop(sprintf("missing file: %s", path), call. = FALSE)
  }
  tryCatch(
    fromJSON(path, simplifyVector = TRUE),
    error = function(e) {
      stop(sprintf("%s is not valid JSON: %s", path, conditionMessage(e)), call. = FALSE)
    }
  )
}

# Stop with one message naming the data and the missing column(s).
check_names <- function(present, required, what, kind = "column") {
  missing <- setdiff(required, present)
  if (length(missing) > 0) {
    stop(sprintf(
      "%s lacks %s%s %s", what, kind, if (length(missing) > 1) "s" else "",
      paste0("'", missing, "'", collapse = ", ")
    ), call. = FALSE)
  }
  invisible(TRUE)
}

check_columns <- function(data, columns, what) {
  if (!is.data.frame(data)) {
    stop(sprintf("%s is not a data frame", what), call. = FALSE)
  }
  check_names(names(data), columns, what)
  invisible(data)
}

# A training CSV with all its required columns as doubles (empty cells become NA).
read_run_csv <- function(path, columns) {
  if (!file.exists(path)) {
    stop(sprintf("missing file: %s", path), call. = FALSE)
  }
  header <- names(read_csv(path, n_max = 0, show_col_types = FALSE, progress = FALSE))
  check_names(header, columns, path)
  types <- setNames(rep(list(col_double()), length(columns)), columns)
  # Parse failures are reported below with file, column and row; readr's own warning is noise.
  data <- suppressWarnings(read_csv(
    path, col_types = do.call(cols, c(types, list(.default = col_guess()))),
    show_col_types = FALSE, progress = FALSE, na = c("", "NA", "nan", "NaN")
  ))
  bad <- problems(data)
  if (nrow(bad) > 0) {
    column <- header[[bad$col[[1]]]]
    stop(sprintf("%s: column '%s' row %d: expected a number, got '%s'", path, column,
                 bad$row[[1]] - 1L, bad$actual[[1]]), call. = FALSE)
  }
  attr(data, "problems") <- NULL
  data
}

# One row of the summary: the scalar keys the figures need, plus the peak memory of all epochs.
summary_row <- function(path, dataset, model, epochs) {
  s <- read_json_file(path)
  check_names(names(s), summary_keys, path, kind = "key")
  number <- function(key) {
    value <- s[[key]]
    if (is.null(value) || length(value) != 1 || !(is.numeric(value) || is.na(value))) {
      stop(sprintf("%s: key '%s' must be a number", path, key), call. = FALSE)
    }
    as.numeric(value)
  }
  text <- function(key) if (is.null(s[[key]])) NA_character_ else as.character(s[[key]])[[1]]
  memory <- epochs$peak_memory_mb[!is.na(epochs$peak_memory_mb)]
  tibble(
    dataset = dataset, model = model,
    params = number("params"), total_seconds = number("total_seconds"),
    final_test_accuracy = number("final_test_accuracy"),
    best_test_accuracy = number("best_test_accuracy"), epochs = number("epochs"),
    peak_memory_mb = if (length(memory) > 0) max(memory) else NA_real_,
    device = text("device"), profile = text("profile")
  )
}

# All runs under train_dir/{dataset}/{model}/ as list(iterations, epochs, summary) of tibbles,
# each with `dataset` and `model` columns taken from the folder names.
read_runs <- function(train_dir) {
  if (!dir.exists(train_dir)) {
    stop(sprintf("training folder not found: %s", train_dir), call. = FALSE)
  }
  run_files <- c("iterations.csv", "epochs.csv", "summary.json")
  dataset_dirs <- list.dirs(train_dir, recursive = FALSE, full.names = TRUE)
  run_dirs <- unlist(lapply(dataset_dirs, list.dirs, recursive = FALSE, full.names = TRUE))
  is_run <- vapply(run_dirs, function(d) any(file.exists(file.path(d, run_files))), logical(1))
  run_dirs <- sort(run_dirs[is_run])
  if (length(run_dirs) == 0) {
    stop(sprintf("no training runs under %s (expected %s/DATASET/MODEL/{%s})", train_dir,
                 train_dir, paste(run_files, collapse = ",")), call. = FALSE)
  }
  runs <- lapply(run_dirs, function(d) {
    model <- basename(d)
    dataset <- basename(dirname(d))
    model_factor(model, what = d)
    iterations <- read_run_csv(file.path(d, "iterations.csv"), iterations_columns)
    epochs <- read_run_csv(file.path(d, "epochs.csv"), epochs_columns)
    list(
      iterations = mutate(iterations, dataset = dataset, model = model, .before = 1),
      epochs = mutate(epochs, dataset = dataset, model = model, .before = 1),
      summary = summary_row(file.path(d, "summary.json"), dataset, model, epochs)
    )
  })
  list(
    iterations = bind_rows(lapply(runs, `[[`, "iterations")),
    epochs = bind_rows(lapply(runs, `[[`, "epochs")),
    summary = bind_rows(lapply(runs, `[[`, "summary"))
  )
}
