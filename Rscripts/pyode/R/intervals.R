# Uncertainty of the accuracies: Wilson intervals from the test-set size, spread across seeds.

#' Wilson score interval of an accuracy
#'
#' The interval of a binomial proportion by Wilson (1927): for `x` correct of `n` test examples
#' at confidence `level`. It stays inside \[0, 1\] and is sensible near 0 and 1, where the normal
#' approximation is not.
#'
#' @param x Correct predictions (counts up to `n`) or accuracies in \[0, 1\]; when every value is
#'   at most 1, `x` is read as accuracies.
#' @param n Test-set sizes (positive), recycled against `x`.
#' @param level Confidence level.
#' @return A tibble with `estimate`, `lower` and `upper` (proportions), one row per value; `NA`
#'   where `x` or `n` is `NA`.
#' @examples
#' wilson_interval(0.9842, 10000)
#' wilson_interval(0, 10)
#' @export
wilson_interval <- function(x, n, level = 0.95) {
  check_wilson_input(x, n, level)
  wilson_body(x, n, level, max(length(x), length(n)))
}

check_wilson_input <- function(x, n, level) {
  checks <- list(
    "'x' and 'n' must be numbers" = function() is.numeric(x) && is.numeric(n),
    "'level' must be one number between 0 and 1" = function() {
      is.numeric(level) && length(level) == 1 && isTRUE(level > 0 && level < 1)
    },
    "test-set sizes 'n' must be positive" = function() !any(n <= 0, na.rm = TRUE),
    "'x' must not be negative" = function() !any(x < 0, na.rm = TRUE)
  )
  for (message in names(checks)) {
    if (!checks[[message]]()) fail("wilson_interval: %s", message)
  }
  invisible(TRUE)
}

wilson_body <- function(x, n, level, size) {
  x <- rep_len(as.numeric(x), size)
  n <- rep_len(as.numeric(n), size)
  p <- if (all(x <= 1, na.rm = TRUE)) x else x / n
  if (any(p > 1, na.rm = TRUE)) {
    fail("wilson_interval: more correct predictions than test examples")
  }
  z <- stats::qnorm(1 - (1 - level) / 2)
  centre <- (p + z^2 / (2 * n)) / (1 + z^2 / n)
  half <- z / (1 + z^2 / n) * sqrt(p * (1 - p) / n + z^2 / (4 * n^2))
  tibble::tibble(
    estimate = p,
    lower = dplyr::if_else(p == 0, 0, pmax(0, centre - half)),
    upper = dplyr::if_else(p == 1, 1, pmin(1, centre + half))
  )
}

#' Final test accuracy of every dataset and model, with its uncertainty
#'
#' One row per dataset and model. With one run: its final test accuracy and the 95 % Wilson
#' interval from its test-set size. With several runs that differ in `seed`: the mean and the
#' standard deviation across seeds, and the Wilson interval of the pooled predictions (all seeds'
#' correct predictions of all seeds' test examples), which reflects the finite test set only.
#'
#' @param runs The result of [read_runs()], or its `summary` table.
#' @param level Confidence level of the intervals.
#' @return A tibble with `dataset`, `model`, the label and rank columns, `continuous_depth`,
#'   `seeds`, `accuracy`,
#'   `accuracy_sd` (`NA` for one seed), `n_test`, `lower`, `upper`, `params`, `total_seconds`,
#'   `peak_memory_mb` (means across seeds), ordered by dataset and model rank.
#' @export
accuracy_table <- function(runs, level = 0.95) {
  data <- runs_table(runs, "summary")
  check_names(
    names(data), c("dataset", "model", "final_test_accuracy", "n_test"), "summary data"
  )
  if (nrow(data) == 0) {
    fail("summary data has no rows")
  }
  for (column in c(
    "model_label", "model_rank", "dataset_label", "dataset_rank", "seed", "continuous_depth"
  )) {
    if (!column %in% names(data)) data[[column]] <- NA
  }
  for (column in c("params", "total_seconds", "peak_memory_mb")) {
    if (!column %in% names(data)) data[[column]] <- NA_real_
  }
  table <- data |>
    dplyr::group_by(.data$dataset, .data$model) |>
    dplyr::summarise(
      model_label = dplyr::first(.data$model_label),
      model_rank = dplyr::first(.data$model_rank),
      dataset_label = dplyr::first(.data$dataset_label),
      dataset_rank = dplyr::first(.data$dataset_rank),
      continuous_depth = dplyr::first(.data$continuous_depth),
      seeds = dplyr::n_distinct(.data$seed),
      runs = dplyr::n(),
      correct = sum(.data$final_test_accuracy * .data$n_test),
      tested = sum(.data$n_test),
      accuracy_sd = if (dplyr::n() > 1) stats::sd(.data$final_test_accuracy) else NA_real_,
      accuracy = mean(.data$final_test_accuracy),
      n_test = dplyr::first(.data$n_test),
      params = mean(as.numeric(.data$params)),
      total_seconds = mean(as.numeric(.data$total_seconds)),
      peak_memory_mb = mean(as.numeric(.data$peak_memory_mb)),
      .groups = "drop"
    )
  repeated <- table$runs > table$seeds
  if (any(repeated)) {
    fail(
      "summary data has several runs of %s with the same seed",
      paste(table$dataset[repeated], table$model[repeated], collapse = ", ")
    )
  }
  interval <- wilson_interval(round(table$correct), table$tested, level)
  table$lower <- interval$lower
  table$upper <- interval$upper
  table[order(table$dataset_rank, table$dataset, table$model_rank, table$model), ] |>
    dplyr::select(-"runs", -"correct", -"tested")
}

#' Whether a published accuracy lies within our interval
#'
#' @param published Published accuracies (proportions).
#' @param lower,upper Our interval (proportions), e.g. from [accuracy_table()].
#' @return `"yes"`, `"no"`, or `NA` where a value is missing.
#' @export
consistent_with <- function(published, lower, upper) {
  inside <- published >= lower & published <= upper
  dplyr::if_else(inside, "yes", "no")
}

#' Format an accuracy and its interval in percent
#'
#' @param accuracy,lower,upper Proportions.
#' @param sd Standard deviation across seeds (proportion), `NA` for one run.
#' @param digits Decimals of the percentages.
#' @return Text such as `"98.42 [98.16, 98.65]"` or `"98.40 ± 0.12 [98.30, 98.50]"`; `"--"`
#'   where the accuracy is `NA`, the interval left out where it is `NA`.
#' @export
format_accuracy <- function(accuracy, lower, upper, sd = NA_real_, digits = 2) {
  pct <- function(x) formatC(100 * x, format = "f", digits = digits)
  spread <- dplyr::if_else(is.na(sd), "", paste0(" \u00b1 ", pct(sd)))
  interval <- dplyr::if_else(
    is.na(lower) | is.na(upper), "", paste0(" [", pct(lower), ", ", pct(upper), "]")
  )
  dplyr::if_else(is.na(accuracy), "--", paste0(pct(accuracy), spread, interval))
}
