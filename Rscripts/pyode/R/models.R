# Model order, labels and colours (from the runs' summaries), datasets as facets, the theme.

#' The colour-blind-safe palette of pyode's figures
#'
#' The Okabe-Ito colours; the model of rank `r` (from its `summary.json`) is drawn in colour
#' `r + 1` (recycled after eight models).
#'
#' @export
pyode_palette <- c(
  "#999999", "#E69F00", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"
)

#' The models of a table, in the project's order
#'
#' One row per model with `model`, `label`, `rank` and `colour`, ordered by `model_rank`. A model
#' without `model_rank` (or `model_label`) comes after the ranked ones in alphabetical order,
#' labelled by its name.
#'
#' @param data A table with a `model` column and, from [read_runs()], `model_label` and
#'   `model_rank`.
#' @return A tibble.
#' @export
model_info <- function(data) {
  data <- tibble::as_tibble(data)
  if (!"model" %in% names(data)) {
    fail("the data has no 'model' column")
  }
  if (!"model_label" %in% names(data)) data$model_label <- NA_character_
  if (!"model_rank" %in% names(data)) data$model_rank <- NA_real_
  info <- data |>
    dplyr::mutate(model = as.character(.data$model)) |>
    dplyr::group_by(.data$model) |>
    dplyr::summarise(
      label = dplyr::first(stats::na.omit(c(as.character(.data$model_label), .data$model[1]))),
      rank = suppressWarnings(min(as.numeric(.data$model_rank), na.rm = TRUE)),
      .groups = "drop"
    ) |>
    dplyr::mutate(rank = dplyr::if_else(is.finite(.data$rank), .data$rank, NA_real_))
  ranked <- info[!is.na(info$rank), ]
  unranked <- info[is.na(info$rank), ]
  unranked <- unranked[order(unranked$model), ]
  start <- if (nrow(ranked) > 0) max(ranked$rank) + 1 else 0
  unranked$rank <- start + seq_len(nrow(unranked)) - 1
  info <- dplyr::bind_rows(ranked, unranked)
  info <- info[order(info$rank, info$model), ]
  info$colour <- pyode_palette[(info$rank %% length(pyode_palette)) + 1]
  info
}

# `model` as a factor in the project's order.
order_models <- function(data, info = model_info(data)) {
  data$model <- factor(as.character(data$model), levels = info$model)
  data
}

# Datasets as facets: by `dataset_rank` when the runs have one, else alphabetically; labelled
# with `dataset_label` where present.
order_datasets <- function(data) {
  name <- as.character(data$dataset)
  label <- if ("dataset_label" %in% names(data)) {
    dplyr::coalesce(as.character(data$dataset_label), name)
  } else {
    name
  }
  rank <- if ("dataset_rank" %in% names(data)) as.numeric(data$dataset_rank) else NA_real_
  key <- unique(tibble::tibble(name, label, rank = rank))
  key <- key[order(key$rank, key$name, na.last = TRUE), ]
  key <- key[!duplicated(key$name), ]
  data$dataset <- factor(name, levels = key$name, labels = key$label)
  data
}

scale_colour_model <- function(info, ...) {
  ggplot2::scale_colour_manual(
    values = stats::setNames(info$colour, info$model),
    labels = stats::setNames(info$label, info$model), breaks = info$model, ...
  )
}

# Open markers, one per model: runs drawn over each other with equal counts stay visible.
scale_shape_model <- function(info, ...) {
  shapes <- c(1, 3, 4, 2, 5, 6, 0, 8)
  ggplot2::scale_shape_manual(
    values = stats::setNames(rep_len(shapes, nrow(info)), info$model),
    labels = stats::setNames(info$label, info$model), breaks = info$model, ...
  )
}

scale_fill_model <- function(info, ...) {
  ggplot2::scale_fill_manual(
    values = stats::setNames(info$colour, info$model),
    labels = stats::setNames(info$label, info$model), breaks = info$model, ...
  )
}

#' The ggplot2 theme of pyode's figures
#'
#' @param base_size Base font size in points.
#' @return A ggplot2 theme.
#' @export
theme_pyode <- function(base_size = 10) {
  ggplot2::theme_bw(base_size = base_size) +
    ggplot2::theme(
      panel.grid.minor = ggplot2::element_blank(),
      strip.background = ggplot2::element_rect(fill = "grey92", colour = NA),
      legend.position = "bottom",
      legend.title = ggplot2::element_blank(),
      plot.title.position = "plot"
    )
}
