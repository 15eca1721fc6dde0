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

# ---- models and datasets ------------------------------------------------------------------------
# No list of models or datasets here: every run's summary.json carries its model's label and rank
# and its dataset's label and rank (pyode's registry fills them), so a new model needs no R edit.

# Okabe-Ito colours: distinguishable with colour-vision deficiencies and in greyscale print. A
# model's colour is the one at its rank, so it is the same in every figure whichever runs exist.
rank_palette <- c(
  "#999999", "#E69F00", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"
)
registry_columns <- c(
  "model_label", "model_rank", "continuous_depth", "dataset_label", "dataset_rank"
)

# The models of `data` (columns model, model_label, model_rank) in rank order, with colours.
model_key <- function(data, what = "data") {
  check_columns(data, c("model", "model_label", "model_rank"), what)
  key <- distinct(tibble(
    model = as.character(data$model), label = as.character(data$model_label),
    rank = as.integer(data$model_rank)
  ))
  key <- arrange(key, rank)
  if (anyDuplicated(key$model) > 0 || anyDuplicated(key$rank) > 0) {
    stop(sprintf("%s: the runs disagree on model labels or ranks", what), call. = FALSE)
  }
  if (anyNA(key$rank) || any(key$rank < 0 | key$rank >= length(rank_palette))) {
    stop(sprintf("%s: model_rank must be an integer in 0..%d", what, length(rank_palette) - 1),
         call. = FALSE)
  }
  mutate(key, colour = rank_palette[rank + 1])
}

# Model names as a factor in rank order.
model_factor <- function(data, what = "data") {
  factor(as.character(data$model), levels = model_key(data, what)$model)
}

model_labels_of <- function(data) {
  key <- model_key(data)
  setNames(key$label, key$model)
}

# Datasets as a factor in rank order, labelled for facets.
dataset_factor <- function(data, what = "data") {
  check_columns(data, c("dataset", "dataset_label", "dataset_rank"), what)
  key <- arrange(distinct(tibble(
    dataset = as.character(data$dataset), label = as.character(data$dataset_label),
    rank = as.integer(data$dataset_rank)
  )), rank)
  factor(as.character(data$dataset), levels = key$dataset, labels = key$label)
}

scale_colour_model <- function(data, ...) {
  key <- model_key(data)
  scale_colour_manual(values = setNames(key$colour, key$model),
                      labels = setNames(key$label, key$model), breaks = key$model, ...)
}

scale_fill_model <- function(data, ...) {
  key <- model_key(data)
  scale_fill_manual(values = setNames(key$colour, key$model),
                    labels = setNames(key$label, key$model), breaks = key$model, ...)
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
summary_keys <- c(
  "params", "total_seconds", "final_test_accuracy", "best_test_accuracy", "epochs",
  registry_columns
)

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
    device = text("device"), profile = text("profile"),
    model_label = text("model_label"), model_rank = number("model_rank"),
    continuous_depth = isTRUE(s$continuous_depth), dataset_label = text("dataset_label"),
    dataset_rank = number("dataset_rank")
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
    iterations <- read_run_csv(file.path(d, "iterations.csv"), iterations_columns)
    epochs <- read_run_csv(file.path(d, "epochs.csv"), epochs_columns)
    summary <- summary_row(file.path(d, "summary.json"), dataset, model, epochs)
    facts <- summary[c("dataset", "model", registry_columns)]
    list(
      iterations = bind_cols(facts[rep(1, nrow(iterations)), ], iterations),
      epochs = bind_cols(facts[rep(1, nrow(epochs)), ], epochs),
      summary = summary
    )
  })
  list(
    iterations = bind_rows(lapply(runs, `[[`, "iterations")),
    epochs = bind_rows(lapply(runs, `[[`, "epochs")),
    summary = bind_rows(lapply(runs, `[[`, "summary"))
  )
}
