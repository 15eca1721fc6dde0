# The training figures: each plot_* takes the runs of read_runs() (or the one table it draws)
# and returns a ggplot. Models are ordered, labelled and coloured from their summaries.

runs_table <- function(runs, table) {
  if (inherits(runs, "pyode_runs") || (is.list(runs) && !is.data.frame(runs))) {
    if (is.null(runs[[table]])) {
      fail("the runs have no '%s' table", table)
    }
    return(runs[[table]])
  }
  runs
}

# Required columns, at least one row; model and dataset as ordered factors.
prepare_runs <- function(data, columns, what) {
  if (!is.data.frame(data)) {
    fail("%s is not a data frame", what)
  }
  check_names(names(data), c("dataset", "model", columns), what)
  if (nrow(data) == 0) {
    fail("%s has no rows", what)
  }
  data <- tibble::as_tibble(data)
  info <- model_info(data)
  list(data = order_datasets(order_models(data, info)), info = info)
}

# Lines only for runs with two or more points (one-epoch runs are drawn as points alone).
multi_epoch <- function(data) {
  data |>
    dplyr::group_by(.data$dataset, .data$model, dplyr::across(dplyr::any_of(c("seed", "pass")))) |>
    dplyr::filter(dplyr::n() > 1) |>
    dplyr::ungroup()
}

millions <- function(x) paste0(signif(x / 1e6, 3), "M")

# A dotted y = x line drawn in one facet panel only: where backward NFE is plotted against
# forward NFE, the line is what "the backward pass costs as much as the forward" looks like.
identity_line_in <- function(panel, levels) {
  ggplot2::geom_abline(
    data = tibble::tibble(panel = factor(panel, levels = levels)),
    ggplot2::aes(slope = 1, intercept = 0), linetype = "dotted", colour = "grey50"
  )
}

# Every k-th row of each run so that no run has more than `max_points` rows (first and last kept).
thin_runs <- function(data, max_points = 2000) {
  data |>
    dplyr::group_by(.data$dataset, .data$model, dplyr::across(dplyr::any_of("seed"))) |>
    dplyr::filter({
      n <- dplyr::n()
      step <- max(1, ceiling(n / max_points))
      dplyr::row_number() %% step == 1 | step == 1 | dplyr::row_number() == n
    }) |>
    dplyr::ungroup()
}

integer_breaks <- function(limits) unique(floor(pretty(limits)))

#' Training figures
#'
#' Each function draws one figure of the training runs and returns a ggplot: `plot_losses()`
#' the mini-batch losses, `plot_accuracy()` the test accuracy per epoch, `plot_nfe()` the
#' function evaluations of the continuous-depth models, `plot_cost()` wall time and peak memory,
#' `plot_params()` the parameter counts, `plot_nfe_training()` the evaluations of every training
#' iteration of the adaptive runs (forward over training, backward against forward),
#' `plot_memory_nfe()` the memory the ODE blocks keep for the backward pass (and, on CUDA, the
#' allocator's peak of a training step) against the forward evaluations the solver chose, per
#' iteration of the continuous-depth runs.
#'
#' @param runs The result of [read_runs()], or the table the figure draws (`iterations` for
#'   `plot_losses()`, `plot_nfe_training()` and `plot_memory_nfe()`, `epochs` for
#'   `plot_accuracy()` and `plot_nfe()`, `summary` otherwise).
#' @param max_points Most iterations drawn per run.
#' @return A ggplot.
#' @name training_figures
NULL

#' @rdname training_figures
#' @export
plot_losses <- function(runs, max_points = 2000) {
  prepared <- prepare_runs(
    runs_table(runs, "iterations"), c("images_seen", "loss", "loss_ewm"), "iterations data"
  )
  data <- prepared$data |>
    dplyr::arrange(.data$dataset, .data$model, .data$images_seen) |>
    thin_runs(max_points)
  data$run <- run_group(data)
  mapping <- ggplot2::aes(.data$images_seen, colour = .data$model, group = .data$run)
  ggplot2::ggplot(data, mapping) +
    ggplot2::geom_line(ggplot2::aes(y = .data$loss), alpha = 0.2, linewidth = 0.3) +
    ggplot2::geom_line(ggplot2::aes(y = .data$loss_ewm), linewidth = 0.7) +
    ggplot2::facet_wrap(ggplot2::vars(.data$dataset), scales = "free") +
    scale_colour_model(prepared$info) +
    ggplot2::scale_x_continuous(
      labels = scales::label_number(scale_cut = scales::cut_short_scale())
    ) +
    ggplot2::labs(
      x = "training images seen", y = "training loss (cross-entropy)",
      caption = "faint: loss of each mini-batch; solid: exponentially weighted mean"
    ) +
    theme_pyode()
}

# The line group of a run: its model, and its seed where runs repeat per seed.
run_group <- function(data) {
  if ("seed" %in% names(data)) interaction(data$model, data$seed, drop = TRUE) else data$model
}

#' @rdname training_figures
#' @export
plot_accuracy <- function(runs) {
  prepared <- prepare_runs(runs_table(runs, "epochs"), c("epoch", "test_accuracy"), "epochs data")
  data <- prepared$data
  data$run <- run_group(data)
  n_test <- if ("n_test" %in% names(data)) as.numeric(data$n_test) else NA_real_
  interval <- wilson_interval(data$test_accuracy, dplyr::coalesce(n_test, 1))
  data$lower <- dplyr::if_else(is.na(n_test), NA_real_, interval$lower)
  data$upper <- dplyr::if_else(is.na(n_test), NA_real_, interval$upper)
  sizes <- unique(stats::na.omit(n_test))
  caption <- if (length(sizes) > 0) {
    sprintf(
      "bars: 95%% Wilson intervals from the test-set size (%s test examples)",
      paste(formatC(sort(sizes), format = "d", big.mark = ","), collapse = "/")
    )
  }
  ggplot2::ggplot(
    data,
    ggplot2::aes(.data$epoch, .data$test_accuracy, colour = .data$model, group = .data$run)
  ) +
    ggplot2::geom_linerange(
      ggplot2::aes(ymin = .data$lower, ymax = .data$upper),
      alpha = 0.6, na.rm = TRUE, position = ggplot2::position_dodge(width = 0.3)
    ) +
    ggplot2::geom_line(
      data = function(d) multi_epoch(d), linewidth = 0.7,
      position = ggplot2::position_dodge(width = 0.3)
    ) +
    ggplot2::geom_point(size = 1.4, position = ggplot2::position_dodge(width = 0.3)) +
    ggplot2::facet_wrap(ggplot2::vars(.data$dataset), scales = "free_y") +
    scale_colour_model(prepared$info) +
    ggplot2::scale_x_continuous(breaks = integer_breaks) +
    ggplot2::scale_y_continuous(labels = scales::label_percent(accuracy = 0.1)) +
    ggplot2::labs(x = "epoch", y = "test accuracy", caption = caption) +
    theme_pyode()
}

# Continuous-depth runs: `continuous_depth` from the summaries, else runs that evaluated a field.
continuous_runs <- function(data) {
  flag <- if ("continuous_depth" %in% names(data)) data$continuous_depth else NA
  evaluated <- data |>
    dplyr::group_by(.data$dataset, .data$model) |>
    dplyr::mutate(evaluated = any(.data$nfe_forward_mean > 0, na.rm = TRUE)) |>
    dplyr::pull(.data$evaluated)
  data[dplyr::coalesce(as.logical(flag), evaluated), ]
}

# One sentence per fixed-grid run: its evaluations per pass do not change during training.
fixed_grid_note <- function(data) {
  if (!"model_label" %in% names(data)) data$model_label <- as.character(data$model)
  fixed <- data |>
    dplyr::filter(.data$solver == "fixed grid") |>
    dplyr::group_by(.data$dataset, .data$model) |>
    dplyr::summarise(
      label = dplyr::coalesce(
        dplyr::first(.data$model_label), dplyr::first(as.character(.data$model))
      ),
      forward = paste(unique(stats::na.omit(.data$nfe_forward_mean)), collapse = "/"),
      backward = paste(unique(stats::na.omit(.data$nfe_backward_mean)), collapse = "/"),
      .groups = "drop"
    )
  if (nrow(fixed) == 0) {
    return(NULL)
  }
  paste0(
    "Fixed grid, so a fixed number of evaluations in every epoch: ",
    paste(sprintf(
      "%s %s: %s forward%s", fixed$dataset, fixed$label, fixed$forward,
      dplyr::if_else(nzchar(fixed$backward), paste0(", ", fixed$backward, " backward"), "")
    ), collapse = "; ")
  )
}

#' @rdname training_figures
#' @export
plot_nfe <- function(runs) {
  data <- runs_table(runs, "epochs")
  prepare_runs(data, c("epoch", "nfe_forward_mean", "nfe_backward_mean"), "epochs data")
  data <- continuous_runs(tibble::as_tibble(data))
  if (nrow(data) == 0) {
    fail("epochs data has no continuous-depth runs: the NFE figure needs one")
  }
  if (!"solver" %in% names(data)) data$solver <- NA_character_
  # Adaptive solvers choose their evaluations: only they are drawn when there are any; a
  # fixed grid costs the same in every epoch, which the caption states with its numbers.
  adaptive <- dplyr::coalesce(data$solver != "fixed grid", TRUE)
  note <- fixed_grid_note(prepare_runs(data, character(), "epochs data")$data)
  drawn <- if (any(adaptive)) data[adaptive, ] else data
  prepared <- prepare_runs(drawn, character(), "epochs data")
  long <- prepared$data |>
    dplyr::mutate(run = run_group(prepared$data)) |>
    dplyr::select("dataset", "model", "run", "epoch", dplyr::any_of("seed"),
      forward = "nfe_forward_mean", backward = "nfe_backward_mean"
    ) |>
    tidyr::pivot_longer(c("forward", "backward"), names_to = "pass", values_to = "nfe") |>
    dplyr::filter(!is.na(.data$nfe)) |>
    dplyr::mutate(pass = factor(.data$pass, levels = c("forward", "backward")))
  ggplot2::ggplot(long, ggplot2::aes(.data$epoch, .data$nfe,
    colour = .data$model,
    group = .data$run
  )) +
    ggplot2::geom_line(data = multi_epoch, linewidth = 0.7) +
    ggplot2::geom_point(size = 1.4) +
    ggplot2::facet_grid(
      ggplot2::vars(.data$pass), ggplot2::vars(.data$dataset),
      scales = "free_y"
    ) +
    scale_colour_model(prepared$info) +
    ggplot2::scale_x_continuous(breaks = integer_breaks) +
    ggplot2::expand_limits(y = 0) +
    ggplot2::labs(
      x = "epoch", y = "function evaluations per mini-batch (mean)",
      caption = if (is.null(note)) NULL else paste(strwrap(note, 110), collapse = "\n")
    ) +
    theme_pyode()
}

#' @rdname training_figures
#' @export
plot_cost <- function(runs) {
  prepared <- prepare_runs(
    runs_table(runs, "summary"), c("total_seconds", "peak_memory_mb"), "summary data"
  )
  metric_labels <- c(total_seconds = "wall time (s)", peak_memory_mb = "peak memory (MB)")
  long <- prepared$data |>
    dplyr::select("dataset", "model", "total_seconds", "peak_memory_mb") |>
    dplyr::mutate(dplyr::across(c("total_seconds", "peak_memory_mb"), as.numeric)) |>
    tidyr::pivot_longer(c("total_seconds", "peak_memory_mb"),
      names_to = "metric", values_to = "value"
    ) |>
    dplyr::filter(!is.na(.data$value)) |>
    dplyr::mutate(metric = factor(metric_labels[.data$metric], levels = metric_labels))
  info <- prepared$info
  ggplot2::ggplot(long, ggplot2::aes(.data$model, .data$value, fill = .data$model)) +
    ggplot2::geom_col(width = 0.7) +
    ggplot2::facet_grid(ggplot2::vars(.data$metric), ggplot2::vars(.data$dataset),
      scales = "free", space = "free_x", switch = "y"
    ) +
    scale_fill_model(info) +
    ggplot2::scale_x_discrete(labels = stats::setNames(info$label, info$model)) +
    ggplot2::scale_y_continuous(expand = ggplot2::expansion(mult = c(0, 0.08))) +
    ggplot2::labs(x = NULL, y = NULL) +
    theme_pyode() +
    ggplot2::theme(strip.placement = "outside", legend.position = "none")
}

#' @rdname training_figures
#' @export
plot_params <- function(runs) {
  prepared <- prepare_runs(runs_table(runs, "summary"), "params", "summary data")
  data <- prepared$data
  data$params <- as.numeric(data$params)
  info <- prepared$info
  ggplot2::ggplot(data, ggplot2::aes(.data$model, .data$params, fill = .data$model)) +
    ggplot2::geom_col(width = 0.7) +
    ggplot2::geom_text(ggplot2::aes(label = millions(.data$params)), vjust = -0.4, size = 3) +
    ggplot2::facet_grid(cols = ggplot2::vars(.data$dataset), scales = "free_x", space = "free_x") +
    scale_fill_model(info) +
    # Long labels wrap: six or more models share the MNIST panel's width.
    ggplot2::scale_x_discrete(labels = function(x) {
      scales::label_wrap(14)(unname(stats::setNames(info$label, info$model)[x]))
    }) +
    ggplot2::scale_y_continuous(
      labels = millions, expand = ggplot2::expansion(mult = c(0, 0.15))
    ) +
    ggplot2::labs(x = NULL, y = "parameters") +
    theme_pyode() +
    ggplot2::theme(legend.position = "none")
}

#' @rdname training_figures
#' @export
plot_nfe_training <- function(runs, max_points = 2000) {
  data <- runs_table(runs, "iterations")
  prepare_runs(data, c("iteration", "nfe_forward", "nfe_backward"), "iterations data")
  if (!"solver" %in% names(data)) data$solver <- NA_character_
  # The adaptive runs, whose evaluations change; the continuous-depth runs when there are none.
  flag <- if ("continuous_depth" %in% names(data)) data$continuous_depth else data$nfe_forward > 0
  continuous <- data[flag %in% TRUE, ]
  adaptive <- continuous$solver %in% "adaptive"
  data <- if (any(adaptive)) continuous[adaptive, ] else continuous
  if (nrow(data) == 0) {
    fail("iterations data has no continuous-depth runs: the evaluations figure needs one")
  }
  prepared <- prepare_runs(data, character(), "iterations data")
  panel_levels <- c("forward NFE per iteration", "backward NFE against forward NFE")
  points <- prepared$data |>
    dplyr::arrange(.data$dataset, .data$model, .data$iteration) |>
    thin_runs(max_points)
  points$run <- run_group(points)
  # Counts are integers and equal across runs for long stretches: over iterations each model's
  # line is drawn a fraction of an evaluation apart, so no run hides another.
  models <- levels(factor(points$model))
  points$nudge <- 0.3 * (match(as.character(points$model), models) - (length(models) + 1) / 2)
  long <- dplyr::bind_rows(
    dplyr::transmute(points, .data$dataset, .data$model, .data$run,
      panel = panel_levels[1], x = .data$iteration, y = .data$nfe_forward + .data$nudge
    ),
    dplyr::transmute(points, .data$dataset, .data$model, .data$run,
      panel = panel_levels[2], x = .data$nfe_forward, y = .data$nfe_backward
    )
  ) |>
    dplyr::filter(!is.na(.data$y)) |>
    dplyr::mutate(panel = factor(.data$panel, levels = panel_levels))
  aesthetics <- ggplot2::aes(.data$x, .data$y, colour = .data$model, shape = .data$model)
  ggplot2::ggplot(long, aesthetics) +
    identity_line_in(panel_levels[2], panel_levels) +
    ggplot2::geom_step(
      data = long[long$panel == panel_levels[1], ], ggplot2::aes(group = .data$run),
      linewidth = 0.3
    ) +
    ggplot2::geom_point(data = long[long$panel == panel_levels[2], ], size = 1.4) +
    ggplot2::facet_grid(ggplot2::vars(.data$dataset), ggplot2::vars(.data$panel),
      scales = "free"
    ) +
    scale_colour_model(prepared$info) +
    scale_shape_model(prepared$info) +
    ggplot2::expand_limits(y = 0) +
    ggplot2::labs(
      x = NULL, y = "function evaluations",
      caption = paste(
        "left: each run's count per iteration, models drawn 0.3 evaluations apart;",
        "right: each marker one or more iterations; dotted: backward as many as forward",
        sep = "\n"
      )
    ) +
    theme_pyode()
}

# The iterations of the continuous-depth runs with a full mini-batch, averaged per forward NFE
# (the evaluations the solver chose): the MB the ODE blocks kept for the backward pass and, on
# CUDA, the allocator's peak of the step. Ordered like prepare_runs() (`dataset_name` keeps the
# data set's name); `iterations` counts the iterations behind each point.
memory_points <- function(iterations) {
  data <- runs_table(iterations, "iterations")
  memory_columns <- c("iteration", "images_seen", "nfe_forward", "saved_mb", "cuda_peak_mb")
  prepare_runs(data, memory_columns, "iterations data")
  data <- tibble::as_tibble(data)
  flag <- if ("continuous_depth" %in% names(data)) data$continuous_depth else data$nfe_forward > 0
  data <- data[flag %in% TRUE & !is.na(data$saved_mb), ]
  if (nrow(data) == 0) {
    fail("iterations data has no continuous-depth runs: the memory figure needs one")
  }
  data$dataset_name <- as.character(data$dataset) # prepare_runs() relabels `dataset`
  prepared <- prepare_runs(data, character(), "iterations data")
  run_keys <- c("dataset", "dataset_name", "model", intersect("seed", names(data)))
  points <- prepared$data |>
    dplyr::group_by(dplyr::across(dplyr::all_of(run_keys))) |>
    dplyr::arrange(.data$iteration, .by_group = TRUE) |>
    # a smaller last mini-batch keeps less: compare full ones only
    dplyr::mutate(batch = .data$images_seen - dplyr::lag(.data$images_seen, default = 0)) |>
    dplyr::filter(.data$batch == max(.data$batch)) |>
    dplyr::group_by(.data$nfe_forward, .add = TRUE) |>
    dplyr::summarise(
      saved_mb = mean(.data$saved_mb), cuda_peak_mb = mean(.data$cuda_peak_mb),
      iterations = dplyr::n(), .groups = "drop"
    )
  list(data = points, info = prepared$info)
}

#' @rdname training_figures
#' @export
plot_memory_nfe <- function(runs) {
  points <- memory_points(runs)
  measures <- c(
    saved_mb = "kept for the backward pass (MB)",
    cuda_peak_mb = "allocator peak of the step (MB, CUDA)"
  )
  drawn <- points$data
  drawn$run <- run_group(drawn)
  long <- drawn |>
    tidyr::pivot_longer(c("saved_mb", "cuda_peak_mb"), names_to = "measure", values_to = "mb") |>
    dplyr::filter(!is.na(.data$mb)) |>
    dplyr::mutate(measure = factor(measures[.data$measure], levels = measures))
  ggplot2::ggplot(long, ggplot2::aes(.data$nfe_forward, .data$mb,
    colour = .data$model, group = .data$run
  )) +
    ggplot2::geom_line(linewidth = 0.6) +
    ggplot2::geom_point(ggplot2::aes(size = .data$iterations), alpha = 0.8) +
    ggplot2::facet_grid(ggplot2::vars(.data$measure), ggplot2::vars(.data$dataset),
      scales = "free", switch = "y"
    ) +
    scale_colour_model(points$info) +
    # a count met once stays visible
    ggplot2::scale_size(range = c(1, 3), guide = "none") +
    ggplot2::scale_x_continuous(breaks = integer_breaks) +
    # from the origin: memory proportional to the evaluations is a line through it
    ggplot2::expand_limits(x = 0, y = 0) +
    ggplot2::labs(
      x = "forward function evaluations per mini-batch", y = NULL,
      caption = paste(
        "mean over the training iterations with a full mini-batch at each count",
        "(larger points: more iterations)"
      )
    ) +
    theme_pyode() +
    ggplot2::theme(strip.placement = "outside")
}

# name -> figure function and size in inches (width, height) of the training figures (each takes
# the runs of read_runs()). An experiment's figure is `plot_<name>()` (see plot_experiment()) at
# the size its summary.json declares.
training_figure_specs <- list(
  losses = list(fun = plot_losses, size = c(8, 3.8)),
  accuracy = list(fun = plot_accuracy, size = c(8, 3.5)),
  nfe = list(fun = plot_nfe, size = c(8, 5)),
  cost = list(fun = plot_cost, size = c(8, 5)),
  params = list(fun = plot_params, size = c(8, 3.5)),
  nfe_training = list(fun = plot_nfe_training, size = c(8, 4.5)),
  memory_nfe = list(fun = plot_memory_nfe, size = c(8, 3.5))
)

#' The names of the training figures
#' @export
training_figure_names <- names(training_figure_specs)

#' The size of a figure in inches
#'
#' @param name A training figure (`"losses"`, ...) or an experiment (`"spiral"`, ...).
#' @param exp For an experiment: the result of [read_experiment()] or its folder, whose
#'   `summary.json` declares the size (from pyode's registry).
#' @return `c(width, height)`; 7 x 4 for an experiment given without `exp`.
#' @export
figure_size <- function(name, exp = NULL) {
  if (name %in% training_figure_names) {
    return(training_figure_specs[[name]]$size)
  }
  if (is.null(exp)) c(7, 4) else as_experiment(exp, name)$figure
}

#' Draw a training figure by name
#'
#' Dispatches on the name: figure `name` is drawn by `plot_<name>()`, so a new training figure is
#' its function plus its entry in the registry's `TRAINING_FIGURES` and in the package's
#' table of training figures (name, function, size; `R/figures.R`).
#'
#' @param name One of [training_figure_names].
#' @param runs The result of [read_runs()].
#' @return A ggplot.
#' @export
plot_training <- function(name, runs) {
  if (!name %in% training_figure_names) {
    fail(
      "unknown training figure '%s' (expected one of %s)", name,
      paste(training_figure_names, collapse = ", ")
    )
  }
  training_figure_specs[[name]]$fun(runs)
}
