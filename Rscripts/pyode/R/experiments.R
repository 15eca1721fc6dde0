# Figures of the continuous-time experiments, from read_experiment().

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
  ggplot2::scale_colour_manual(values = series_palette, labels = series_labels, ...)
}

# An experiment object: read from its folder when given a path.
as_experiment <- function(exp, name) {
  if (is.character(exp) && length(exp) == 1) {
    exp <- read_experiment(basename(exp), dirname(exp))
  }
  if (!inherits(exp, "pyode_experiment")) {
    fail("plot_%s: expected the result of read_experiment(\"%s\") or its folder", name, name)
  }
  exp
}

summary_value <- function(exp, key) {
  value <- exp$summary[[key]]
  if (is.null(value)) {
    fail("%s lacks key '%s'", file.path(exp$dir, "summary.json"), key)
  }
  value
}

fit_label <- function(system, model) {
  field <- dplyr::if_else(model == "linear", "linear field", "MLP field")
  data <- dplyr::if_else(system == "linear", "linear spiral", "two-regime spiral")
  paste0(field, ", ", data)
}

#' Experiment figures
#'
#' Each function draws one experiment's figure and returns a ggplot.
#'
#' @param exp The result of [read_experiment()] for that experiment, or its folder.
#' @return A ggplot.
#' @name experiment_figures
NULL

#' @rdname experiment_figures
#' @export
plot_spiral <- function(exp) {
  exp <- as_experiment(exp, "spiral")
  trajectories <- experiment_table(
    exp, "trajectories", c("system", "model", "series", "iteration", "z1", "z2")
  ) |>
    dplyr::mutate(fit = fit_label(.data$system, .data$model))
  # Early, untrained fields can diverge: hide learned states far outside the data.
  bounds <- trajectories |>
    dplyr::filter(.data$series == "observed") |>
    dplyr::group_by(.data$system) |>
    dplyr::summarise(
      lo1 = min(.data$z1) - 0.5 * diff(range(.data$z1)),
      hi1 = max(.data$z1) + 0.5 * diff(range(.data$z1)),
      lo2 = min(.data$z2) - 0.5 * diff(range(.data$z2)),
      hi2 = max(.data$z2) + 0.5 * diff(range(.data$z2))
    )
  learned <- trajectories |>
    dplyr::filter(.data$series == "learned") |>
    dplyr::inner_join(bounds, by = "system") |>
    dplyr::mutate(
      outside = .data$z1 < .data$lo1 | .data$z1 > .data$hi1 |
        .data$z2 < .data$lo2 | .data$z2 > .data$hi2,
      z1 = dplyr::if_else(.data$outside, NA_real_, .data$z1),
      z2 = dplyr::if_else(.data$outside, NA_real_, .data$z2)
    )
  panels <- learned |>
    dplyr::distinct(.data$system, .data$fit, .data$iteration) |>
    dplyr::arrange(.data$fit, .data$iteration) |>
    dplyr::group_by(.data$fit) |>
    dplyr::mutate(snapshot = sprintf("snapshot %d", dplyr::row_number())) |>
    dplyr::ungroup()
  learned <- dplyr::inner_join(learned, panels, by = c("system", "fit", "iteration"))
  data <- trajectories |>
    dplyr::filter(.data$series != "learned") |>
    dplyr::select(-"model", -"iteration", -"fit") |>
    dplyr::inner_join(panels, by = "system", relationship = "many-to-many")
  ggplot2::ggplot(mapping = ggplot2::aes(.data$z1, .data$z2, colour = .data$series)) +
    ggplot2::geom_point(
      data = dplyr::filter(data, .data$series == "observed"), size = 0.5, alpha = 0.6
    ) +
    ggplot2::geom_path(data = dplyr::filter(data, .data$series == "true"), linewidth = 0.4) +
    ggplot2::geom_path(data = learned, linewidth = 0.6, na.rm = TRUE) +
    ggplot2::geom_text(
      data = panels, ggplot2::aes(x = -Inf, y = Inf, label = paste("iteration", .data$iteration)),
      hjust = -0.1, vjust = 1.5, size = 2.8, colour = "grey20", inherit.aes = FALSE
    ) +
    ggplot2::facet_grid(
      rows = ggplot2::vars(.data$fit), cols = ggplot2::vars(.data$snapshot), scales = "free",
      labeller = ggplot2::labeller(.rows = ggplot2::label_wrap_gen(16))
    ) +
    scale_colour_series(name = NULL) +
    ggplot2::labs(x = expression(z[1]), y = expression(z[2])) +
    theme_pyode()
}

#' @rdname experiment_figures
#' @export
plot_latent <- function(exp) {
  exp <- as_experiment(exp, "latent")
  examples <- experiment_table(exp, "examples", c("series", "t", "x", "y", "spiral"))
  until <- summary_value(exp, "observed_until")
  predictions <- examples |>
    dplyr::filter(.data$series %in% c("latent_ode", "rnn")) |>
    dplyr::mutate(part = dplyr::if_else(.data$t <= until, "observed interval", "extrapolation"))
  mse <- experiment_table(exp, "metrics", c("model", "part", "mse")) |>
    dplyr::filter(.data$part != "reconstruction") |>
    dplyr::group_by(.data$model) |>
    dplyr::summarise(text = paste0(
      series_labels[.data$model[1]], ": ",
      paste(sprintf("%s %.3f", .data$part, .data$mse), collapse = ", ")
    ))
  ggplot2::ggplot(mapping = ggplot2::aes(.data$x, .data$y, colour = .data$series)) +
    ggplot2::geom_path(data = dplyr::filter(examples, .data$series == "truth"), linewidth = 0.4) +
    ggplot2::geom_path(
      data = predictions,
      ggplot2::aes(linetype = .data$part, group = interaction(.data$series, .data$part)),
      linewidth = 0.6
    ) +
    ggplot2::geom_point(data = dplyr::filter(examples, .data$series == "observed"), size = 0.8) +
    ggplot2::facet_wrap(ggplot2::vars(spiral = .data$spiral), labeller = ggplot2::label_both) +
    ggplot2::coord_equal() +
    scale_colour_series(name = NULL) +
    ggplot2::scale_linetype_manual(
      values = c("observed interval" = "solid", extrapolation = "22"), name = NULL
    ) +
    ggplot2::labs(
      x = "x", y = "y",
      caption = paste0("Test MSE vs the noise-free spirals\n", paste(mse$text, collapse = "\n"))
    ) +
    theme_pyode()
}

#' @rdname experiment_figures
#' @export
plot_tolerance <- function(exp) {
  exp <- as_experiment(exp, "tolerance")
  sweep <- experiment_table(
    exp, "tolerance", c("tolerance", "nfe_forward", "nfe_backward", "seconds_per_forward")
  )
  epoch_columns <- c("epoch", "nfe_forward_mean", "nfe_backward_mean")
  epochs <- experiment_table(exp, "nfe_epochs", epoch_columns) |>
    dplyr::mutate(dplyr::across(dplyr::everything(), as.numeric))
  panel_levels <- c(
    "forward NFE vs log10(tolerance)", "seconds per forward pass vs forward NFE",
    "backward NFE vs forward NFE", "NFE per training epoch"
  )
  long <- dplyr::bind_rows(
    dplyr::transmute(sweep,
      panel = panel_levels[1], x = log10(.data$tolerance), y = .data$nfe_forward,
      series = "forward"
    ),
    dplyr::transmute(sweep,
      panel = panel_levels[2], x = .data$nfe_forward, y = .data$seconds_per_forward,
      series = "forward"
    ),
    dplyr::transmute(sweep,
      panel = panel_levels[3], x = .data$nfe_forward, y = .data$nfe_backward,
      series = "backward"
    ),
    epochs |>
      tidyr::pivot_longer(c("nfe_forward_mean", "nfe_backward_mean"),
        names_to = "series", values_to = "y"
      ) |>
      dplyr::transmute(
        panel = panel_levels[4], x = .data$epoch, y = .data$y,
        series = sub("nfe_(.*)_mean", "\\1", .data$series)
      )
  ) |>
    dplyr::mutate(panel = factor(.data$panel, levels = panel_levels))
  ggplot2::ggplot(long, ggplot2::aes(.data$x, .data$y, colour = .data$series)) +
    identity_line_in(panel_levels[3], panel_levels) +
    ggplot2::geom_line() +
    ggplot2::geom_point() +
    ggplot2::facet_wrap(ggplot2::vars(.data$panel), scales = "free", ncol = 2, drop = FALSE) +
    ggplot2::scale_colour_manual(
      values = c(forward = "#0072B2", backward = "#D55E00"), name = "NFE"
    ) +
    ggplot2::labs(x = NULL, y = NULL) +
    theme_pyode()
}

#' @rdname experiment_figures
#' @export
plot_memory <- function(exp) {
  exp <- as_experiment(exp, "memory")
  memory <- experiment_table(exp, "memory", c("steps", "peak_mb", "saved_mb", "mode"))
  slopes <- unlist(summary_value(exp, "slopes"))
  caption <- paste(sprintf("%s %.3g", series_labels[names(slopes)], slopes / 1024), collapse = ", ")
  measures <- c(
    peak_mb = "peak of one training step (MiB)", saved_mb = "kept for the backward pass (MiB)"
  )
  long <- memory |>
    tidyr::pivot_longer(c("peak_mb", "saved_mb"), names_to = "measure", values_to = "mib") |>
    dplyr::mutate(measure = factor(measures[.data$measure], levels = measures))
  ggplot2::ggplot(long, ggplot2::aes(.data$steps, .data$mib, colour = .data$mode)) +
    ggplot2::geom_smooth(
      method = "lm", formula = y ~ x, se = FALSE, linetype = "dashed", linewidth = 0.4
    ) +
    ggplot2::geom_line() +
    ggplot2::geom_point() +
    ggplot2::facet_wrap(ggplot2::vars(.data$measure), scales = "free_y", strip.position = "left") +
    scale_colour_series(name = NULL) +
    ggplot2::labs(
      x = "rk4 steps", y = NULL,
      caption = paste("Least-squares slopes of the peak (KiB per step):", caption)
    ) +
    theme_pyode() +
    ggplot2::theme(strip.placement = "outside")
}

#' @rdname experiment_figures
#' @export
plot_euler <- function(exp) {
  exp <- as_experiment(exp, "euler")
  exponential <- experiment_table(exp, "exponential", c("x", "euler"))
  convergence <- experiment_table(exp, "convergence", c("h", "abs_error"))
  relaxation <- experiment_table(exp, "relaxation", c("x", "y", "method", "y0"))
  check <- experiment_table(
    exp, "residual_check", c("output_max_abs_diff", "gradient_max_abs_diff")
  )
  panel_levels <- c(
    "dy/dx = y, step 1", "error at x = 4 vs step h (log2 h, log10 error)",
    "dy/dx + y/2 = 3/2"
  )
  fine <- tibble::tibble(x = seq(0, max(exponential$x), length.out = 101)) |>
    dplyr::mutate(y = exp(.data$x), method = "exact", y0 = 1)
  long <- dplyr::bind_rows(
    dplyr::mutate(fine, panel = panel_levels[1]),
    dplyr::transmute(exponential,
      x = .data$x, y = .data$euler, method = "euler", y0 = 1,
      panel = panel_levels[1]
    ),
    dplyr::transmute(convergence,
      x = log2(.data$h), y = log10(.data$abs_error), method = "euler",
      y0 = 1, panel = panel_levels[2]
    ),
    dplyr::mutate(relaxation, panel = panel_levels[3])
  ) |>
    dplyr::mutate(panel = factor(.data$panel, levels = panel_levels))
  ggplot2::ggplot(long, ggplot2::aes(.data$x, .data$y,
    colour = .data$method,
    group = interaction(.data$method, .data$y0)
  )) +
    ggplot2::geom_line() +
    ggplot2::geom_point(data = dplyr::filter(long, .data$method == "euler"), size = 0.9) +
    ggplot2::facet_wrap(ggplot2::vars(.data$panel), scales = "free", nrow = 1) +
    scale_colour_series(name = NULL) +
    ggplot2::labs(
      x = NULL, y = NULL,
      caption = sprintf(
        paste(
          "Residual block vs one Euler step of size 1:",
          "max |difference| %.1e (output), %.1e (gradients)"
        ),
        check$output_max_abs_diff[1], check$gradient_max_abs_diff[1]
      )
    ) +
    theme_pyode()
}

#' Draw an experiment's figure by name
#'
#' Experiment `name` is drawn by the function `plot_<name>()`: the package's own, or one defined
#' where the package's namespace can see it (e.g. the global environment), so that a new
#' experiment needs no list here.
#'
#' @param name The experiment, e.g. `"spiral"`.
#' @param exp The result of [read_experiment()], or the experiment's folder; by default
#'   `results/experiments/<name>`.
#' @return A ggplot.
#' @export
plot_experiment <- function(name, exp = file.path("results", "experiments", name)) {
  experiment_plot_function(name)(exp)
}

# `plot_<name>` of an experiment, or one error naming what is missing.
experiment_plot_function <- function(name) {
  if (!is.character(name) || length(name) != 1 || !nzchar(name)) {
    fail("unknown experiment '%s': expected one experiment name", paste(name, collapse = ","))
  }
  fun <- get0(paste0("plot_", name), envir = asNamespace("pyode"), mode = "function")
  if (is.null(fun) || name %in% c(training_figure_names, "training", "experiment")) {
    fail("unknown experiment '%s': no function plot_%s draws its figure", name, name)
  }
  fun
}
