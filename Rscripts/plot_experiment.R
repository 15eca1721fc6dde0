# Figures of the continuous-time experiments, from the CSVs and summary.json that
# `pyode experiment NAME` writes.
#
# Usage: Rscript --vanilla Rscripts/plot_experiment.R NAME EXPDIR OUT_STEM
#   NAME     spiral | latent | tolerance | memory | euler
#   EXPDIR   results/experiments/NAME
#   OUT_STEM results/figures/experiment_NAME (writes OUT_STEM.pdf and OUT_STEM.png)
#
# Works from any working directory: helpers.R is found next to this script (or in PYODE_RSCRIPTS).
# Sourced (e.g. by the paper) it only defines plot_<name>(exp_dir) and plot_experiment(name, dir).

suppressPackageStartupMessages({
  library(ggplot2)
  library(dplyr)
  library(tidyr)
  library(readr)
  library(jsonlite)
})

experiment_script_dir <- function() {
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1) {
    return(dirname(normalizePath(sub("^--file=", "", file_arg))))
  }
  from_env <- Sys.getenv("PYODE_RSCRIPTS", "")
  if (nzchar(from_env)) from_env else "Rscripts"
}

if (!exists("theme_pyode", mode = "function")) {
  source(file.path(experiment_script_dir(), "helpers.R"))
}

experiment_names <- c("spiral", "latent", "tolerance", "memory", "euler")

# Colours for the series of these figures (the model palette of helpers.R covers the classifiers).
series_palette <- c(
  true = "grey20", exact = "grey20", truth = "grey20", observed = "grey55",
  learned = "#D55E00", euler = "#D55E00", latent_ode = "#0072B2", rnn = "#E69F00",
  adjoint = "#0072B2", backprop = "#D55E00"
)
series_labels <- c(
  true = "true", exact = "exact", truth = "truth", observed = "observed",
  learned = "learned", euler = "Euler", latent_ode = "latent ODE", rnn = "RNN decoder",
  adjoint = "adjoint", backprop = "direct backprop"
)
scale_colour_series <- function(...) {
  scale_colour_manual(values = series_palette, labels = series_labels, ...)
}

read_experiment_csv <- function(exp_dir, file) {
  path <- file.path(exp_dir, file)
  if (!file.exists(path)) {
    stop(sprintf("missing experiment output: %s", path), call. = FALSE)
  }
  read_csv(path, show_col_types = FALSE, progress = FALSE)
}

read_experiment_summary <- function(exp_dir) {
  path <- file.path(exp_dir, "summary.json")
  if (!file.exists(path)) {
    stop(sprintf("missing experiment output: %s", path), call. = FALSE)
  }
  fromJSON(path, simplifyVector = TRUE)
}

fit_label <- function(system, model) {
  field <- if_else(model == "linear", "linear field", "MLP field")
  data <- if_else(system == "linear", "linear spiral", "two-regime spiral")
  paste0(field, ", ", data)
}

plot_spiral <- function(exp_dir) {
  trajectories <- read_experiment_csv(exp_dir, "trajectories.csv") |>
    mutate(fit = fit_label(system, model))
  # Early, untrained fields can diverge: hide learned states far outside the data so that every
  # panel shows the spiral (the path is broken there, not clipped to the border).
  bounds <- trajectories |>
    filter(series == "observed") |>
    group_by(system) |>
    summarise(
      lo1 = min(z1) - 0.5 * diff(range(z1)), hi1 = max(z1) + 0.5 * diff(range(z1)),
      lo2 = min(z2) - 0.5 * diff(range(z2)), hi2 = max(z2) + 0.5 * diff(range(z2))
    )
  learned <- trajectories |>
    filter(series == "learned") |>
    inner_join(bounds, by = "system") |>
    mutate(
      outside = z1 < lo1 | z1 > hi1 | z2 < lo2 | z2 > hi2,
      z1 = if_else(outside, NA_real_, z1), z2 = if_else(outside, NA_real_, z2)
    )
  panels <- learned |>
    distinct(system, fit, iteration) |>
    arrange(fit, iteration) |>
    group_by(fit) |>
    mutate(snapshot = sprintf("snapshot %d", row_number())) |>
    ungroup()
  learned <- learned |> inner_join(panels, by = c("system", "fit", "iteration"))
  data <- trajectories |>
    filter(series != "learned") |>
    select(-model, -iteration, -fit) |>
    inner_join(panels, by = "system", relationship = "many-to-many")
  ggplot(mapping = aes(z1, z2, colour = series)) +
    geom_point(data = filter(data, series == "observed"), size = 0.5, alpha = 0.6) +
    geom_path(data = filter(data, series == "true"), linewidth = 0.4) +
    geom_path(data = learned, linewidth = 0.6, na.rm = TRUE) +
    geom_text(
      data = panels, aes(x = -Inf, y = Inf, label = paste("iteration", iteration)),
      hjust = -0.1, vjust = 1.5, size = 2.8, colour = "grey20", inherit.aes = FALSE
    ) +
    facet_grid(
      rows = vars(fit), cols = vars(snapshot), scales = "free",
      labeller = labeller(fit = label_wrap_gen(16))
    ) +
    scale_colour_series(name = NULL) +
    labs(x = expression(z[1]), y = expression(z[2])) +
    theme_pyode()
}

plot_latent <- function(exp_dir) {
  examples <- read_experiment_csv(exp_dir, "examples.csv")
  summary <- read_experiment_summary(exp_dir)
  until <- summary$observed_until
  predictions <- examples |>
    filter(series %in% c("latent_ode", "rnn")) |>
    mutate(part = if_else(t <= until, "observed interval", "extrapolation"))
  mse <- read_experiment_csv(exp_dir, "metrics.csv") |>
    filter(part != "reconstruction") |>
    group_by(model) |>
    summarise(text = paste0(
      series_labels[model[1]], ": ", paste(sprintf("%s %.3f", part, mse), collapse = ", ")
    ))
  ggplot(mapping = aes(x, y, colour = series)) +
    geom_path(data = filter(examples, series == "truth"), linewidth = 0.4) +
    geom_path(
      data = predictions,
      aes(linetype = part, group = interaction(series, part)),
      linewidth = 0.6
    ) +
    geom_point(data = filter(examples, series == "observed"), size = 0.8) +
    facet_wrap(vars(spiral), labeller = label_both) +
    coord_equal() +
    scale_colour_series(name = NULL) +
    scale_linetype_manual(
      values = c("observed interval" = "solid", extrapolation = "22"), name = NULL
    ) +
    labs(
      x = "x", y = "y",
      caption = paste0("Test MSE vs the noise-free spirals\n", paste(mse$text, collapse = "\n"))
    ) +
    theme_pyode()
}

plot_tolerance <- function(exp_dir) {
  sweep <- read_experiment_csv(exp_dir, "tolerance.csv")
  epochs <- read_experiment_csv(exp_dir, "nfe_epochs.csv") |>
    mutate(across(everything(), as.numeric))
  panel_levels <- c(
    "forward NFE vs log10(tolerance)", "seconds per forward pass vs forward NFE",
    "backward NFE vs forward NFE", "NFE per training epoch"
  )
  long <- bind_rows(
    sweep |> transmute(
      panel = panel_levels[1], x = log10(tolerance), y = nfe_forward, series = "forward"
    ),
    sweep |> transmute(
      panel = panel_levels[2], x = nfe_forward, y = seconds_per_forward, series = "forward"
    ),
    sweep |> transmute(
      panel = panel_levels[3], x = nfe_forward, y = nfe_backward, series = "backward"
    ),
    epochs |>
      pivot_longer(
        c(nfe_forward_mean, nfe_backward_mean),
        names_to = "series", values_to = "y"
      ) |>
      transmute(
        panel = panel_levels[4], x = epoch, y,
        series = sub("nfe_(.*)_mean", "\\1", series)
      )
  ) |>
    mutate(panel = factor(panel, levels = panel_levels))
  identity_line <- tibble(panel = factor(panel_levels[3], levels = panel_levels))
  ggplot(long, aes(x, y, colour = series)) +
    geom_abline(
      data = identity_line, aes(slope = 1, intercept = 0),
      linetype = "dotted", colour = "grey50"
    ) +
    geom_line() +
    geom_point() +
    facet_wrap(vars(panel), scales = "free", ncol = 2, drop = FALSE) +
    scale_colour_manual(
      values = c(forward = "#0072B2", backward = "#D55E00"), name = "NFE"
    ) +
    labs(x = NULL, y = NULL) +
    theme_pyode()
}

plot_memory <- function(exp_dir) {
  memory <- read_experiment_csv(exp_dir, "memory.csv")
  summary <- read_experiment_summary(exp_dir)
  slopes <- unlist(summary$slopes)
  caption <- paste(
    sprintf("%s %.3g", series_labels[names(slopes)], slopes / 1024),
    collapse = ", "
  )
  ggplot(memory, aes(steps, peak_mb, colour = mode)) +
    geom_smooth(
      method = "lm", formula = y ~ x, se = FALSE, linetype = "dashed", linewidth = 0.4
    ) +
    geom_line() +
    geom_point() +
    scale_colour_series(name = NULL) +
    labs(
      x = "rk4 steps", y = "peak memory of one training step (MiB)",
      caption = paste("Least-squares slopes (KiB per step):", caption)
    ) +
    theme_pyode()
}

plot_euler <- function(exp_dir) {
  exponential <- read_experiment_csv(exp_dir, "exponential.csv")
  convergence <- read_experiment_csv(exp_dir, "convergence.csv")
  relaxation <- read_experiment_csv(exp_dir, "relaxation.csv")
  check <- read_experiment_csv(exp_dir, "residual_check.csv")
  panel_levels <- c(
    "dy/dx = y, step 1", "error at x = 4 vs step h (log2 h, log10 error)",
    "dy/dx + y/2 = 3/2"
  )
  fine <- tibble(x = seq(0, max(exponential$x), length.out = 101)) |>
    mutate(y = exp(x), method = "exact", y0 = 1)
  long <- bind_rows(
    fine |> mutate(panel = panel_levels[1]),
    exponential |> transmute(x, y = euler, method = "euler", y0 = 1, panel = panel_levels[1]),
    convergence |> transmute(
      x = log2(h), y = log10(abs_error), method = "euler", y0 = 1, panel = panel_levels[2]
    ),
    relaxation |> mutate(panel = panel_levels[3])
  ) |>
    mutate(panel = factor(panel, levels = panel_levels))
  ggplot(long, aes(x, y, colour = method, group = interaction(method, y0))) +
    geom_line() +
    geom_point(data = filter(long, method == "euler"), size = 0.9) +
    facet_wrap(vars(panel), scales = "free", nrow = 1) +
    scale_colour_series(name = NULL) +
    labs(
      x = NULL, y = NULL,
      caption = sprintf(
        "Residual block vs one Euler step of size 1: max |difference| %.1e (output), %.1e (gradients)",
        check$output_max_abs_diff, check$gradient_max_abs_diff
      )
    ) +
    theme_pyode()
}

figure_sizes <- list(
  spiral = c(9, 7), latent = c(8, 6), tolerance = c(8, 6), memory = c(7, 4.2), euler = c(10, 3.8)
)

plot_experiment <- function(name, exp_dir) {
  if (!name %in% experiment_names) {
    stop(sprintf(
      "unknown experiment '%s' (expected one of %s)", name,
      paste(experiment_names, collapse = ", ")
    ), call. = FALSE)
  }
  get(paste0("plot_", name))(exp_dir)
}

main <- function(args) {
  if (length(args) != 3) {
    stop("usage: plot_experiment.R NAME EXPDIR OUT_STEM", call. = FALSE)
  }
  name <- args[[1]]
  plot <- plot_experiment(name, args[[2]])
  size <- figure_sizes[[name]]
  written <- save_figure(plot, args[[3]], width = size[[1]], height = size[[2]])
  cat(sprintf("wrote %s\n", written), sep = "")
}

if (sys.nframe() == 0L) {
  status <- tryCatch(
    {
      main(commandArgs(trailingOnly = TRUE))
      0L
    },
    error = function(e) {
      message("plot_experiment.R: error: ", conditionMessage(e))
      1L
    }
  )
  quit(save = "no", status = status)
}
