# Figures of the normalizing-flow and training-NFE experiments (Chen et al. 2018, Fig. 6 and 3).

flow_label <- function(model) {
  dplyr::if_else(
    model == "cnf", "CNF", paste0("planar, K = ", sub("^planar_", "", model))
  )
}

# CNF first, then the planar flows by depth.
flow_levels <- function(models) {
  models <- unique(as.character(models))
  depth <- suppressWarnings(as.numeric(sub("^planar_", "", models)))
  models[order(models != "cnf", depth, models)]
}

#' @rdname experiment_figures
#' @param what `"density"` (log-density on the grid) or `"samples"` (the base points carried to
#'   each stage) for `plot_cnf()`.
#' @export
plot_cnf <- function(exp, what = c("density", "samples")) {
  what <- match.arg(what)
  exp <- as_experiment(exp, "cnf")
  columns <- c("model", "stage", "t", "layers", "x1", "x2")
  data <- if (what == "density") {
    experiment_table(exp, "densities", c(columns, "log_density"))
  } else {
    experiment_table(exp, "samples", c(columns, "sample"))
  }
  levels <- flow_levels(data$model)
  data <- data |>
    dplyr::mutate(
      flow = factor(flow_label(.data$model), levels = flow_label(levels)),
      stage_label = dplyr::if_else(
        .data$model == "cnf", sprintf("t = %.2f", .data$t),
        sprintf("%d layers", as.integer(.data$layers))
      ),
      panel = sprintf("stage %d", as.integer(.data$stage))
    )
  nll <- exp$tables$models
  caption <- if (!is.null(nll) && all(c("model", "test_nll") %in% names(nll))) {
    se <- if ("test_nll_se" %in% names(nll)) sprintf(" \u00b1 %.3f", nll$test_nll_se) else ""
    paste0(
      "Test NLL (nats): ",
      paste(sprintf("%s %.3f%s", flow_label(nll$model), nll$test_nll, se), collapse = "; ")
    )
  }
  labels <- dplyr::distinct(data, .data$flow, .data$panel, .data$stage_label)
  plot <- if (what == "density") {
    ggplot2::ggplot(data, ggplot2::aes(.data$x1, .data$x2, fill = exp(.data$log_density))) +
      ggplot2::geom_raster() +
      ggplot2::scale_fill_viridis_c(name = "density", guide = "none")
  } else {
    ggplot2::ggplot(data, ggplot2::aes(.data$x1, .data$x2)) +
      ggplot2::geom_point(size = 0.3, alpha = 0.5, colour = "#0072B2")
  }
  plot +
    ggplot2::geom_text(
      data = labels, ggplot2::aes(x = -Inf, y = Inf, label = .data$stage_label),
      hjust = -0.1, vjust = 1.4, size = 2.6, colour = "white", inherit.aes = FALSE
    ) +
    ggplot2::facet_grid(ggplot2::vars(.data$flow), ggplot2::vars(.data$panel)) +
    ggplot2::coord_equal(expand = FALSE) +
    ggplot2::labs(
      x = expression(x[1]), y = expression(x[2]), caption = caption,
      title = if (what == "density") "from noise (left) to data (right)"
    ) +
    theme_pyode()
}
