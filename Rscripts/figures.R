# The training figures. Each figure_* function takes plain data frames (as read_runs() returns
# them, or as pyode.interop passes pandas frames through rpy2) and returns a ggplot.
#
# Every frame has `dataset` and `model` columns; the figures facet by dataset and colour by model
# with the fixed order and palette of helpers.R. A dataset may lack models (iceberg has no RK-Net).

# helpers.R sits next to this file: found through source()'s `ofile`, PYODE_RSCRIPTS, the running
# script's --file=, else "Rscripts".
if (!exists("theme_pyode", mode = "function")) {
  local({
    here <- NULL
    for (frame in rev(sys.frames())) {
      if (!is.null(frame$ofile)) {
        here <- dirname(frame$ofile)
        break
      }
    }
    if (is.null(here)) {
      here <- Sys.getenv("PYODE_RSCRIPTS", "")
    }
    if (!nzchar(here)) {
      file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
      here <- if (length(file_arg) == 1) dirname(sub("^--file=", "", file_arg)) else "Rscripts"
    }
    source(file.path(here, "helpers.R"))
  })
}

# Shared preparation: required columns, model and dataset as ordered factors, at least one row.
prepare_runs <- function(data, columns, what) {
  check_columns(data, c("dataset", "model", columns), what)
  if (nrow(data) == 0) {
    stop(sprintf("%s has no rows", what), call. = FALSE)
  }
  data <- as_tibble(data)
  data$model <- model_factor(data, what = what)
  data$dataset <- dataset_factor(data, what = what)
  data
}

# Parameter counts in millions with three significant digits (0.208M, 1.2M).
# Lines only for runs with two or more epochs (one-epoch runs are drawn as points alone).
multi_epoch <- function(data) {
  data |>
    group_by(dataset, model, across(any_of("pass"))) |>
    filter(n() > 1) |>
    ungroup()
}

millions <- function(x) paste0(signif(x / 1e6, 3), "M")

# Every k-th row of each run so that no run has more than `max_points` rows (first and last kept):
# long schedules log ~10^5 iterations per run, far more than a figure can show.
thin_runs <- function(data, max_points = 2000) {
  data |>
    group_by(dataset, model) |>
    filter({
      n <- n()
      step <- max(1, ceiling(n / max_points))
      row_number() %% step == 1 | step == 1 | row_number() == n
    }) |>
    ungroup()
}

figure_losses <- function(iterations, max_points = 2000) {
  data <- prepare_runs(iterations, c("images_seen", "loss", "loss_ewm"), "iterations data") |>
    arrange(dataset, model, images_seen) |>
    thin_runs(max_points)
  ggplot(data, aes(images_seen, colour = model, group = model)) +
    geom_line(aes(y = loss), alpha = 0.2, linewidth = 0.3) +
    geom_line(aes(y = loss_ewm), linewidth = 0.7) +
    facet_wrap(~dataset, scales = "free") +
    scale_colour_model(data) +
    scale_x_continuous(labels = scales::label_number(scale_cut = scales::cut_short_scale())) +
    labs(x = "training images seen", y = "training loss (cross-entropy)",
         caption = "faint: loss of each mini-batch; solid: exponentially weighted mean") +
    theme_pyode()
}

figure_accuracy <- function(epochs) {
  data <- prepare_runs(epochs, c("epoch", "test_accuracy"), "epochs data")
  ggplot(data, aes(epoch, test_accuracy, colour = model, group = model)) +
    geom_line(data = multi_epoch, linewidth = 0.7) +
    geom_point(size = 1.4) +
    facet_wrap(~dataset, scales = "free_y") +
    scale_colour_model(data) +
    scale_x_continuous(breaks = function(limits) unique(floor(pretty(limits)))) +
    scale_y_continuous(labels = scales::label_percent(accuracy = 0.1)) +
    labs(x = "epoch", y = "test accuracy") +
    theme_pyode()
}

figure_nfe <- function(epochs) {
  data <- prepare_runs(epochs, c("epoch", "nfe_forward_mean", "nfe_backward_mean"), "epochs data")
  check_columns(data, "continuous_depth", "epochs data")
  data <- filter(data, as.logical(continuous_depth))
  if (nrow(data) == 0) {
    stop("epochs data has no continuous-depth (ODE) runs: the NFE figure needs one",
         call. = FALSE)
  }
  long <- data |>
    select(dataset, model, epoch, forward = nfe_forward_mean, backward = nfe_backward_mean) |>
    pivot_longer(c(forward, backward), names_to = "pass", values_to = "nfe") |>
    filter(!is.na(nfe)) |>
    mutate(pass = factor(pass, levels = c("forward", "backward")))
  ggplot(long, aes(epoch, nfe, colour = model, group = model)) +
    geom_line(data = multi_epoch, linewidth = 0.7) +
    geom_point(size = 1.4) +
    facet_grid(pass ~ dataset, scales = "free_y") +
    scale_colour_model(data) +
    scale_x_continuous(breaks = function(limits) unique(floor(pretty(limits)))) +
    expand_limits(y = 0) +
    labs(x = "epoch", y = "function evaluations per mini-batch (mean)") +
    theme_pyode()
}

figure_cost <- function(summaries) {
  data <- prepare_runs(summaries, c("total_seconds", "peak_memory_mb"), "summary data")
  metric_labels <- c(total_seconds = "wall time (s)", peak_memory_mb = "peak memory (MB)")
  long <- data |>
    select(dataset, model, total_seconds, peak_memory_mb) |>
    mutate(across(c(total_seconds, peak_memory_mb), as.numeric)) |>
    pivot_longer(c(total_seconds, peak_memory_mb), names_to = "metric", values_to = "value") |>
    filter(!is.na(value)) |>
    mutate(metric = factor(metric_labels[metric], levels = metric_labels))
  ggplot(long, aes(model, value, fill = model)) +
    geom_col(width = 0.7) +
    facet_grid(metric ~ dataset, scales = "free", space = "free_x", switch = "y") +
    scale_fill_model(data) +
    scale_x_discrete(labels = model_labels_of(data)) +
    scale_y_continuous(expand = expansion(mult = c(0, 0.08))) +
    labs(x = NULL, y = NULL) +
    theme_pyode() +
    theme(strip.placement = "outside", legend.position = "none")
}

figure_params <- function(summaries) {
  data <- prepare_runs(summaries, "params", "summary data")
  data$params <- as.numeric(data$params)
  ggplot(data, aes(model, params, fill = model)) +
    geom_col(width = 0.7) +
    geom_text(aes(label = millions(params)), vjust = -0.4, size = 3) +
    facet_grid(~dataset, scales = "free_x", space = "free_x") +
    scale_fill_model(data) +
    scale_x_discrete(labels = model_labels_of(data)) +
    scale_y_continuous(labels = millions, expand = expansion(mult = c(0, 0.15))) +
    labs(x = NULL, y = "parameters") +
    theme_pyode() +
    theme(legend.position = "none")
}

# name -> which table of read_runs() it draws, and its size in inches (width, height).
training_figures <- list(
  losses = list(fun = figure_losses, table = "iterations", size = c(8, 3.8)),
  accuracy = list(fun = figure_accuracy, table = "epochs", size = c(8, 3.5)),
  nfe = list(fun = figure_nfe, table = "epochs", size = c(8, 5)),
  cost = list(fun = figure_cost, table = "summary", size = c(8, 5)),
  params = list(fun = figure_params, table = "summary", size = c(8, 3.5))
)

training_figure_spec <- function(name) {
  if (!name %in% names(training_figures)) {
    stop(sprintf("unknown figure '%s' (expected one of %s)", name,
                 paste(names(training_figures), collapse = ", ")), call. = FALSE)
  }
  training_figures[[name]]
}

# Draw figure `name` from runs = list(iterations, epochs, summary) and write stem.pdf/stem.png.
save_training_figure <- function(name, runs, stem) {
  spec <- training_figure_spec(name)
  plot <- spec$fun(runs[[spec$table]])
  save_figure(plot, stem, width = spec$size[[1]], height = spec$size[[2]])
}
