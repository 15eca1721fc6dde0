# The published reference values and their comparison with this build's runs. The values live
# in inst/extdata/published.csv, the one place they are typed; tests/test_published.py checks
# the registry's paper parameter counts against it.

published_columns <- c("source", "dataset", "model", "quantity", "epoch", "value")
published_quantities <- c("test error (%)", "accuracy (%)", "parameters (M)")
# The source of the paper this project reproduces.
paper_source <- "Chen et al., Tab. 1"

#' The published reference values
#'
#' Reads the published numbers the paper compares with: Table 1 of Chen et al. (2018) and the
#' numbers of the seed project, one row per number.
#'
#' @param path The CSV file, by default the package's `extdata/published.csv`.
#' @return A tibble with `source`, `dataset`, `model`, `quantity` (`"test error (%)"`,
#'   `"accuracy (%)"` or `"parameters (M)"`), `epoch` (the epoch an accuracy was read at, `NA`
#'   for the final one) and `value` (as published, text).
#' @export
published_values <- function(path = system.file("extdata", "published.csv", package = "pyode")) {
  if (!nzchar(path) || !file.exists(path)) {
    fail("published values not found: %s", path)
  }
  data <- utils::read.csv(
    path,
    colClasses = "character", na.strings = "", check.names = FALSE
  )
  check_names(names(data), published_columns, path)
  unknown <- setdiff(data$quantity, published_quantities)
  if (length(unknown) > 0) {
    fail(
      "%s: unknown quantity %s (expected one of %s)", path, paste0("'", unknown, "'"),
      paste0("'", published_quantities, "'", collapse = ", ")
    )
  }
  numbers <- suppressWarnings(as.numeric(data$value))
  epochs <- suppressWarnings(as.integer(data$epoch))
  if (anyNA(numbers) || any(is.na(epochs) != is.na(data$epoch))) {
    fail("%s: column 'value' must hold numbers and 'epoch' whole numbers or nothing", path)
  }
  data$epoch <- epochs
  tibble::as_tibble(data[published_columns])
}

#' One published value
#'
#' @param published The result of [published_values()].
#' @param dataset,model,quantity The number's run and quantity.
#' @param source Its source, by default Table 1 of Chen et al. (2018).
#' @return The value as published (text), `NA` when the source does not report it.
#' @export
published_value <- function(published, dataset, model, quantity, source = paper_source) {
  row <- published$source == source & published$dataset == dataset &
    published$model == model & published$quantity == quantity & is.na(published$epoch)
  if (any(row)) published$value[row][[1]] else NA_character_
}

# The quantity as the table names it: an accuracy read at an epoch says which.
quantity_label <- function(quantity, epoch) {
  dplyr::if_else(is.na(epoch), quantity, sprintf("acc. at epoch %s (%%)", epoch))
}

# A label per name, from the results' label column; names without a run keep their name.
label_of <- function(names, keys, labels) {
  first <- !duplicated(keys)
  found <- labels[first][match(names, keys[first])]
  dplyr::coalesce(found, names)
}

# Our value of one published quantity and whether the published value lies inside our 95 %
# interval; accuracies read at an epoch are read at that epoch, or the last one a run reached.
compare_one <- function(reference, results, runs) {
  r <- results[results$dataset == reference$dataset & results$model == reference$model, ]
  if (nrow(r) == 0) {
    return(c(ours = "not run", within = "--"))
  }
  if (reference$quantity == "parameters (M)") {
    return(c(ours = sprintf("%.3f", r$params / 1e6), within = "--"))
  }
  error_text <- format_accuracy(1 - r$accuracy, 1 - r$upper, 1 - r$lower, r$accuracy_sd)
  if (is.na(reference$value)) {
    return(c(ours = error_text, within = "--"))
  }
  value <- as.numeric(reference$value) / 100
  if (reference$quantity == "test error (%)") {
    inside <- consistent_with(1 - value, r$lower, r$upper)
    return(c(ours = error_text, within = dplyr::coalesce(inside, "--")))
  }
  if (is.na(reference$epoch)) {
    inside <- consistent_with(value, r$lower, r$upper)
    text <- format_accuracy(r$accuracy, r$lower, r$upper, r$accuracy_sd)
    return(c(ours = text, within = dplyr::coalesce(inside, "--")))
  }
  e <- runs$epochs[runs$epochs$dataset == reference$dataset &
    runs$epochs$model == reference$model, ]
  at <- e[e$epoch == min(reference$epoch, max(e$epoch)), ]
  ci <- wilson_interval(round(sum(at$test_accuracy * at$n_test)), sum(at$n_test))
  sd <- if (nrow(at) > 1) stats::sd(at$test_accuracy) else NA_real_
  suffix <- if (max(e$epoch) < reference$epoch) {
    sprintf(" (epoch %d)", as.integer(at$epoch[[1]]))
  } else {
    ""
  }
  c(
    ours = paste0(format_accuracy(mean(at$test_accuracy), ci$lower, ci$upper, sd), suffix),
    within = dplyr::coalesce(consistent_with(value, ci$lower, ci$upper), "--")
  )
}

#' Published numbers beside ours
#'
#' Every published value beside our number of the same quantity, with its 95 % Wilson interval
#' from our test-set size, and whether the published value lies inside it; runs that no source
#' reports (ablations) follow with our test error only.
#'
#' @param published The result of [published_values()].
#' @param runs The result of [read_runs()] or [select_runs()].
#' @param profile The configuration profile of our runs, named in the last column.
#' @return A data frame with the columns `Source`, `Model`, `Quantity`, `Published`,
#'   `Ours [95% CI]`, `Within CI` (`"yes"`, `"no"` or `"--"` where nothing is tested) and
#'   `Our run` (profile and data source, `"--"` for runs not made).
#' @export
compare_published <- function(published, runs, profile) {
  check_runs(runs, "compare_published")
  check_names(names(published), published_columns, "compare_published: 'published'")
  results <- run_results(runs)
  unpublished <- unique(results[!run_key(results) %in% run_key(published), c("dataset", "model")])
  rows <- dplyr::bind_rows(published, tibble::tibble(
    source = rep("--", nrow(unpublished)), dataset = unpublished$dataset,
    model = unpublished$model, quantity = "test error (%)", epoch = NA_integer_,
    value = NA_character_
  ))
  compared <- do.call(rbind, lapply(seq_len(nrow(rows)), function(i) {
    compare_one(rows[i, ], results, runs)
  }))
  data <- run_data(runs)
  sources <- data$source[match(rows$dataset, data$dataset)]
  data.frame(
    Source = rows$source,
    Model = paste(
      label_of(rows$dataset, results$dataset, results$dataset_label),
      label_of(rows$model, results$model, results$model_label)
    ),
    Quantity = quantity_label(rows$quantity, rows$epoch),
    Published = dplyr::coalesce(rows$value, "not reported"),
    `Ours [95% CI]` = compared[, "ours"],
    `Within CI` = compared[, "within"],
    `Our run` = dplyr::if_else(
      compared[, "ours"] == "not run", "--", paste0(profile, ", ", dplyr::coalesce(sources, "--"))
    ),
    check.names = FALSE
  )
}

#' How many published values lie within our intervals
#'
#' @param comparison The result of [compare_published()].
#' @return One sentence counting the published accuracies and errors inside and outside our
#'   95 % intervals.
#' @export
within_sentence <- function(comparison) {
  tested <- comparison[["Within CI"]] %in% c("yes", "no")
  within <- sum(comparison[["Within CI"]] == "yes")
  sprintf(
    paste(
      "Of the %d published accuracies and errors we could compare, %d %s within our 95%%",
      "interval and %d outside it."
    ),
    sum(tested), within, if (within == 1) "lies" else "lie", sum(tested) - within
  )
}
