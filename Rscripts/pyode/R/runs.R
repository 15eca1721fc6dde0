# The runs a document reports on: the configured training runs, their results table, the
# summary of one run, the data behind them, and every experiment the configuration ran.

run_key <- function(table) paste(table$dataset, table$model, sep = "/")

check_runs <- function(runs, fun) {
  if (!inherits(runs, "pyode_runs")) {
    fail("%s: 'runs' must be the result of read_runs()", fun)
  }
  invisible(runs)
}

#' The training runs of a configuration
#'
#' @param config_runs The `runs` block of the workflow's configuration: a list naming, for each
#'   dataset, its models.
#' @return A tibble with `dataset` and `model`, one row per configured run.
#' @examples
#' configured_runs(list(mnist = c("mlp", "odenet"), iceberg = list()))
#' @export
configured_runs <- function(config_runs) {
  if (!is.list(config_runs) || (length(config_runs) > 0 && is.null(names(config_runs)))) {
    fail("configured_runs: 'config_runs' must be a list of models named by dataset")
  }
  rows <- lapply(names(config_runs), function(dataset) {
    models <- as.character(unlist(config_runs[[dataset]]))
    tibble::tibble(dataset = rep(dataset, length(models)), model = models)
  })
  dplyr::bind_rows(tibble::tibble(dataset = character(), model = character()), rows)
}

#' Keep the runs a document reports on
#'
#' @param runs The result of [read_runs()].
#' @param wanted A data frame with `dataset` and `model`, e.g. from [configured_runs()].
#' @return `runs` with only the wanted runs in every table and in `summaries`; an error naming
#'   every wanted run that `runs` lacks.
#' @export
select_runs <- function(runs, wanted) {
  check_runs(runs, "select_runs")
  check_names(names(wanted), c("dataset", "model"), "select_runs: 'wanted'")
  missing <- setdiff(run_key(wanted), run_key(runs$summary))
  if (length(missing) > 0) {
    fail("no training run of %s (no summary.json)", paste(missing, collapse = ", "))
  }
  keep <- run_key(runs$summary) %in% run_key(wanted)
  structure(
    list(
      iterations = runs$iterations[run_key(runs$iterations) %in% run_key(wanted), ],
      epochs = runs$epochs[run_key(runs$epochs) %in% run_key(wanted), ],
      summary = runs$summary[keep, ],
      summaries = runs$summaries[keep]
    ),
    class = "pyode_runs"
  )
}

#' The results of every dataset and model
#'
#' [accuracy_table()] with the test error, the mean function evaluations per forward and
#' backward pass and the solver kind of the continuous-depth models (`NA` for the others), and
#' the devices the runs trained on.
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return A tibble, one row per dataset and model in the order of [accuracy_table()]: its
#'   columns and `nfe_forward`, `nfe_backward`, `solver`, `error` and `device`.
#' @export
run_results <- function(runs) {
  check_runs(runs, "run_results")
  # The solver's evaluation counts mean something only for the continuous-depth models.
  nfe <- runs$epochs |>
    dplyr::filter(.data$continuous_depth) |>
    dplyr::group_by(.data$dataset, .data$model) |>
    dplyr::summarise(
      nfe_forward = mean(.data$nfe_forward_mean, na.rm = TRUE),
      nfe_backward = mean(.data$nfe_backward_mean, na.rm = TRUE),
      solver = dplyr::first(.data$solver), .groups = "drop"
    )
  devices <- runs$summary |>
    dplyr::group_by(.data$dataset, .data$model) |>
    dplyr::summarise(device = paste(unique(.data$device), collapse = "/"), .groups = "drop")
  accuracy_table(runs) |>
    dplyr::left_join(nfe, by = c("dataset", "model")) |>
    dplyr::mutate(error = 1 - .data$accuracy) |>
    dplyr::left_join(devices, by = c("dataset", "model"))
}

#' The summary of one run
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @param dataset,model The run.
#' @return The whole `summary.json` of the run (of its lowest seed when there are several), or
#'   `NULL` when `runs` has no such run.
#' @export
run_summary <- function(runs, dataset, model) {
  check_runs(runs, "run_summary")
  rows <- which(runs$summary$dataset == dataset & runs$summary$model == model)
  if (length(rows) == 0) {
    return(NULL)
  }
  runs$summaries[[rows[order(runs$summary$seed[rows])][[1]]]]
}

#' One number of every run's summary
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @param key A key of `summary.json`, e.g. `"cpu_threads"`.
#' @return A number per run, `NA` where its summary lacks the key.
#' @export
summary_values <- function(runs, key) {
  check_runs(runs, "summary_values")
  vapply(runs$summaries, function(s) {
    if (is.null(s[[key]])) NA_real_ else as.numeric(s[[key]])
  }, numeric(1))
}

#' The seeds of the runs
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return The distinct seeds, in increasing order.
#' @export
run_seeds <- function(runs) {
  check_runs(runs, "run_seeds")
  sort(unique(runs$summary$seed))
}

#' The data behind the runs
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return A tibble, one row per dataset in the datasets' order: `dataset`, and the `label`,
#'   `source` and `description` its first run recorded (as [plain_text()]).
#' @export
run_data <- function(runs) {
  check_runs(runs, "run_data")
  first <- !duplicated(runs$summary$dataset)
  order <- order(runs$summary$dataset_rank[first], runs$summary$dataset[first])
  rows <- which(first)[order]
  text <- function(key) {
    plain_text(vapply(runs$summaries[rows], function(s) {
      if (is.null(s[[key]])) NA_character_ else as.character(s[[key]])
    }, character(1)))
  }
  tibble::tibble(
    dataset = runs$summary$dataset[rows], label = plain_text(runs$summary$dataset_label[rows]),
    source = text("data_source"), description = text("data_description")
  )
}

#' Every experiment a results folder holds
#'
#' @param experiments_dir The experiments folder, `results/experiments` by default.
#' @return A named list of [read_experiment()] results, one per folder that has a
#'   `summary.json` (an experiment the configuration ran); indexing it by an experiment that did
#'   not run gives `NULL`.
#' @export
read_experiments <- function(experiments_dir = file.path("results", "experiments")) {
  dirs <- sort(list.dirs(experiments_dir, recursive = FALSE, full.names = TRUE))
  ran <- basename(dirs[file.exists(file.path(dirs, "summary.json"))])
  lapply(stats::setNames(nm = ran), read_experiment, results_dir = experiments_dir)
}

#' One output table of an experiment
#'
#' @param exp The result of [read_experiment()].
#' @param file The output file, e.g. `"fits.csv"`.
#' @return Its tibble; an error naming the file when the experiment did not write it.
#' @export
experiment_output <- function(exp, file) {
  if (!inherits(exp, "pyode_experiment")) {
    fail("experiment_output: 'exp' must be the result of read_experiment()")
  }
  experiment_table(exp, sub("\\.csv$", "", file))
}

#' A file a document needs
#'
#' @param path The file.
#' @return `path`; an error naming it when it does not exist.
#' @export
required_file <- function(path) {
  if (!file.exists(path)) {
    fail("the paper needs %s, which does not exist", path)
  }
  path
}
