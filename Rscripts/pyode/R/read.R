# The one reader of pyode's result files: training runs and experiment folders.

iterations_columns <- c(
  "epoch", "iteration", "images_seen", "loss", "loss_ewm", "lr", "nfe_forward", "nfe_backward",
  "saved_mb", "cuda_peak_mb", "seconds"
)
epochs_columns <- c(
  "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "nfe_forward_mean",
  "nfe_backward_mean", "saved_mb_mean", "cuda_peak_mb_mean", "epoch_seconds", "peak_memory_mb"
)
summary_numbers <- c(
  "params", "total_seconds", "final_test_accuracy", "best_test_accuracy", "epochs"
)
run_files <- c("iterations.csv", "epochs.csv", "summary.json")

fail <- function(...) stop(sprintf(...), call. = FALSE)

read_json_file <- function(path) {
  if (!file.exists(path)) {
    fail("missing file: %s", path)
  }
  value <- tryCatch(
    jsonlite::fromJSON(path, simplifyVector = TRUE),
    error = function(e) fail("%s is not valid JSON: %s", path, conditionMessage(e))
  )
  if (!is.list(value) || is.null(names(value))) {
    fail("%s: expected a JSON object", path)
  }
  value
}

# Stop with one message naming the data and the missing names.
check_names <- function(present, required, what, kind = "column") {
  missing <- setdiff(required, present)
  if (length(missing) > 0) {
    fail(
      "%s lacks %s%s %s", what, kind, if (length(missing) > 1) "s" else "",
      paste0("'", missing, "'", collapse = ", ")
    )
  }
  invisible(TRUE)
}

# snake_case column names: "Peak MB" -> "peak_mb", "nfeForward" -> "nfe_forward".
snake_case <- function(x) {
  x <- gsub("([a-z0-9])([A-Z])", "\\1_\\2", x)
  x <- gsub("[^A-Za-z0-9]+", "_", tolower(x))
  gsub("^_|_$", "", x)
}

# A CSV as a tibble with snake_case names; `numbers` must be present and numeric (empty cells,
# NA and NaN become NA). Parse failures name the file, column and row. With `rows = TRUE` a file
# with only its header line is an error too (a run that wrote no rows is broken, not empty).
read_table <- function(path, numbers = character(), rows = FALSE) {
  if (!file.exists(path)) {
    fail("missing file: %s", path)
  }
  header <- tryCatch(
    names(readr::read_csv(path, n_max = 0, show_col_types = FALSE, progress = FALSE)),
    error = function(e) fail("%s is not a readable CSV: %s", path, conditionMessage(e))
  )
  if (length(header) == 0) {
    fail("%s is empty (no header line)", path)
  }
  check_names(header, numbers, path)
  types <- stats::setNames(rep(list(readr::col_double()), length(numbers)), numbers)
  spec <- do.call(readr::cols, c(types, list(.default = readr::col_guess())))
  data <- suppressWarnings(readr::read_csv(
    path,
    col_types = spec, show_col_types = FALSE, progress = FALSE,
    na = c("", "NA", "nan", "NaN")
  ))
  bad <- readr::problems(data)
  if (nrow(bad) > 0) {
    column <- if (bad$col[[1]] <= length(header)) header[[bad$col[[1]]]] else bad$col[[1]]
    fail(
      "%s: column '%s' row %d: expected %s, got '%s'", path, column, bad$row[[1]] - 1L,
      bad$expected[[1]], bad$actual[[1]]
    )
  }
  attr(data, "problems") <- NULL
  if (rows && nrow(data) == 0) {
    fail("%s has a header but no rows: the run is broken", path)
  }
  names(data) <- snake_case(names(data))
  tibble::as_tibble(data)
}

scalar <- function(value, path, key, type = c("number", "text", "flag")) {
  type <- match.arg(type)
  if (is.null(value)) {
    return(switch(type,
      number = NA_real_,
      text = NA_character_,
      flag = NA
    ))
  }
  ok <- length(value) == 1 && switch(type,
    number = is.numeric(value) || is.na(value),
    text = is.character(value),
    flag = is.logical(value)
  )
  if (!ok) {
    fail("%s: key '%s' must be a single %s", path, key, switch(type,
      number = "number",
      text = "string",
      flag = "true or false"
    ))
  }
  switch(type,
    number = as.numeric(value),
    text = value,
    flag = value
  )
}

# One training run folder: list(iterations, epochs, summary) where summary is the whole
# summary.json as a list.
read_run_files <- function(dir) {
  if (!dir.exists(dir)) {
    fail("run folder not found: %s", dir)
  }
  summary_path <- file.path(dir, "summary.json")
  summary <- read_json_file(summary_path)
  check_names(names(summary), summary_numbers, summary_path, kind = "key")
  for (key in summary_numbers) scalar(summary[[key]], summary_path, key)
  list(
    iterations = read_table(file.path(dir, "iterations.csv"), iterations_columns, rows = TRUE),
    epochs = read_table(file.path(dir, "epochs.csv"), epochs_columns, rows = TRUE),
    summary = summary
  )
}

# A run folder is DATASET/MODEL or DATASET/MODEL/seed-N: the folder names below the training
# folder, for runs whose summary lacks them.
seed_folder <- "^seed-([0-9]+)$"
folder_identity <- function(dir) {
  seeded <- grepl(seed_folder, basename(dir))
  model_dir <- if (seeded) dirname(dir) else dir
  list(
    model = basename(model_dir), dataset = basename(dirname(model_dir)),
    seed = if (seeded) as.numeric(sub(seed_folder, "\\1", basename(dir))) else NA_real_
  )
}

# The size of the test set a run's accuracies were measured on: `n_test` of the summary, else
# the run's data setting `config.data.n_test`, else the count in its data description
# ("... and 10,000 test images", "... / 24 test"); NA when none of them says.
test_set_size <- function(summary, path) {
  direct <- scalar(summary$n_test, path, "n_test")
  if (!is.na(direct)) {
    return(direct)
  }
  data <- summary$config$data
  configured <- if (is.list(data)) scalar(data$n_test, path, "config.data.n_test") else NA_real_
  if (!is.na(configured)) {
    return(configured)
  }
  text <- scalar(summary$data_description, path, "data_description", "text")
  if (is.na(text)) {
    return(NA_real_)
  }
  found <- regmatches(text, regexec("([0-9][0-9,]*) test\\b", text))[[1]]
  if (length(found) == 2) as.numeric(gsub(",", "", found[[2]])) else NA_real_
}

# A fixed-grid solver (`n_steps` or `step_size` set) spends the same number of evaluations on
# every pass; an adaptive one chooses its steps. NA for runs without a solver.
solver_kind <- function(summary) {
  solver <- summary$config$solver
  if (!is.list(solver) || is.null(solver$method)) {
    return(NA_character_)
  }
  if (!is.null(solver$n_steps) || !is.null(solver$step_size)) "fixed grid" else "adaptive"
}

# The identifying columns of a run, from its summary (folder names as the fallback).
run_identity <- function(summary, dir) {
  path <- file.path(dir, "summary.json")
  folders <- folder_identity(dir)
  model <- dplyr::coalesce(scalar(summary$model, path, "model", "text"), folders$model)
  dataset <- dplyr::coalesce(scalar(summary$dataset, path, "dataset", "text"), folders$dataset)
  label <- scalar(summary$model_label, path, "model_label", "text")
  dataset_label <- scalar(summary$dataset_label, path, "dataset_label", "text")
  tibble::tibble(
    dataset = dataset,
    model = model,
    model_label = if (is.na(label)) model else label,
    model_rank = scalar(summary$model_rank, path, "model_rank"),
    continuous_depth = scalar(summary$continuous_depth, path, "continuous_depth", "flag"),
    dataset_label = if (is.na(dataset_label)) dataset else dataset_label,
    dataset_rank = scalar(summary$dataset_rank, path, "dataset_rank"),
    seed = dplyr::coalesce(scalar(summary$seed, path, "seed"), folders$seed),
    solver = solver_kind(summary),
    n_test = test_set_size(summary, path)
  )
}

summary_table <- function(summary, epochs, dir) {
  path <- file.path(dir, "summary.json")
  memory <- epochs$peak_memory_mb[!is.na(epochs$peak_memory_mb)]
  numbers <- lapply(stats::setNames(summary_numbers, summary_numbers), function(key) {
    scalar(summary[[key]], path, key)
  })
  tibble::as_tibble(c(numbers, list(
    peak_memory_mb = if (length(memory) > 0) max(memory) else NA_real_,
    device = scalar(summary$device, path, "device", "text"),
    profile = scalar(summary$profile, path, "profile", "text"),
    data_source = scalar(summary$data_source, path, "data_source", "text")
  )))
}

#' Read the training runs of the workflow
#'
#' Reads every run folder `train_dir/DATASET/MODEL/` or, for runs repeated per seed,
#' `train_dir/DATASET/MODEL/seed-N/` (`iterations.csv`, `epochs.csv`, `summary.json`). Each
#' table carries the run's `dataset`, `model`, `model_label`, `model_rank`, `continuous_depth`,
#' `dataset_label`, `dataset_rank` and `seed` (from `summary.json`; runs without them fall back
#' to the folder names), the `solver` kind (`"adaptive"`, `"fixed grid"`, `NA` without a
#' solver) and the test-set size `n_test` (see [accuracy_table()]). The summary table adds the
#' `data_source`; `summaries` holds every run's whole `summary.json`, in the summary's row
#' order. A run file that is missing, malformed
#' or has a header but no rows is an error naming the file: no run silently drops out.
#'
#' @param train_dir The training results folder, `results/train` by default.
#' @return A list of class `pyode_runs` with tibbles `iterations`, `epochs` and `summary` (one
#'   row per run) and the list `summaries`.
#' @export
read_runs <- function(train_dir = file.path("results", "train")) {
  if (!dir.exists(train_dir)) {
    fail("training folder not found: %s", train_dir)
  }
  dataset_dirs <- list.dirs(train_dir, recursive = FALSE, full.names = TRUE)
  model_dirs <- unlist(lapply(dataset_dirs, list.dirs, recursive = FALSE, full.names = TRUE))
  seed_dirs <- unlist(lapply(model_dirs, function(d) {
    inner <- list.dirs(d, recursive = FALSE, full.names = TRUE)
    inner[grepl(seed_folder, basename(inner))]
  }))
  run_dirs <- c(model_dirs, seed_dirs)
  is_run <- vapply(
    run_dirs, function(d) any(file.exists(file.path(d, run_files))), logical(1)
  )
  run_dirs <- sort(run_dirs[is_run])
  if (length(run_dirs) == 0) {
    fail(
      "no training runs under %s (expected %s/DATASET/MODEL[/seed-N]/{%s})", train_dir, train_dir,
      paste(run_files, collapse = ",")
    )
  }
  runs <- lapply(run_dirs, function(d) {
    files <- read_run_files(d)
    id <- run_identity(files$summary, d)
    list(
      iterations = dplyr::bind_cols(id[rep(1, nrow(files$iterations)), ], files$iterations),
      epochs = dplyr::bind_cols(id[rep(1, nrow(files$epochs)), ], files$epochs),
      summary = dplyr::bind_cols(id, summary_table(files$summary, files$epochs, d)),
      raw = files$summary
    )
  })
  structure(
    list(
      iterations = dplyr::bind_rows(lapply(runs, `[[`, "iterations")),
      epochs = dplyr::bind_rows(lapply(runs, `[[`, "epochs")),
      summary = dplyr::bind_rows(lapply(runs, `[[`, "summary")),
      summaries = lapply(runs, `[[`, "raw")
    ),
    class = "pyode_runs"
  )
}

#' Read one experiment's outputs
#'
#' Reads the CSV files of `results_dir/name/` that the experiment declares in its `summary.json`
#' into tibbles (snake_case columns) and the summary into a list. pyode writes the declaration
#' (`outputs`: each file with its columns; `figure`: width and height in inches) from the
#' experiment's registry entry, so the package keeps no list of experiments or of their columns
#' and works for any experiment the workflow runs. A declared file that is missing, a column that
#' differs from the declaration or a CSV file the experiment does not declare is an error naming
#' the file.
#'
#' @param name The experiment, e.g. `"spiral"`.
#' @param results_dir The experiments folder, `results/experiments` by default.
#' @return A list of class `pyode_experiment`: `name`, `dir`, `tables` (named by file, without
#'   `.csv`), `summary` and `figure` (the declared `c(width, height)`).
#' @export
read_experiment <- function(name, results_dir = file.path("results", "experiments")) {
  if (!is.character(name) || length(name) != 1 || !nzchar(name)) {
    fail("read_experiment: 'name' must be one experiment name")
  }
  dir <- file.path(results_dir, name)
  if (!dir.exists(dir)) {
    fail("experiment folder not found: %s", dir)
  }
  summary_path <- file.path(dir, "summary.json")
  summary <- read_json_file(summary_path)
  declared <- experiment_declaration(summary, summary_path)
  undeclared <- setdiff(list.files(dir, pattern = "\\.csv$"), names(declared$outputs))
  if (length(undeclared) > 0) {
    fail(
      "%s: %s not declared in its summary.json (key 'outputs')", dir,
      paste(undeclared, collapse = ", ")
    )
  }
  tables <- lapply(names(declared$outputs), function(file) {
    path <- file.path(dir, file)
    if (!file.exists(path)) {
      fail("missing experiment output: %s", path)
    }
    data <- read_table(path)
    check_declared(names(data), snake_case(declared$outputs[[file]]), path)
    data
  })
  names(tables) <- sub("\\.csv$", "", names(declared$outputs))
  structure(
    list(name = name, dir = dir, tables = tables, summary = summary, figure = declared$figure),
    class = "pyode_experiment"
  )
}

# The files, columns and figure size an experiment declares in its summary.json.
experiment_declaration <- function(summary, path) {
  outputs <- summary$outputs
  is_declaration <- is.list(outputs) && length(outputs) > 0 && !is.null(names(outputs)) &&
    all(vapply(outputs, function(x) is.character(x) && length(x) > 0, logical(1)))
  if (!is_declaration) {
    fail(
      "%s lacks the experiment's declared outputs (key 'outputs': file -> columns); %s",
      path, "rerun the experiment with this version of pyode"
    )
  }
  figure <- summary$figure
  size <- if (is.list(figure)) {
    c(
      scalar(figure$width, path, "figure.width"), scalar(figure$height, path, "figure.height")
    )
  } else {
    c(NA_real_, NA_real_)
  }
  if (anyNA(size) || any(size <= 0)) {
    fail("%s lacks the experiment's figure size (key 'figure': width, height > 0)", path)
  }
  list(outputs = outputs, figure = size)
}

# Stop unless a file's columns are those declared for it.
check_declared <- function(present, declared, path) {
  check_names(present, declared, path)
  extra <- setdiff(present, declared)
  if (length(extra) > 0) {
    fail(
      "%s has column%s %s, which its declaration in summary.json lacks", path,
      if (length(extra) > 1) "s" else "", paste0("'", extra, "'", collapse = ", ")
    )
  }
  invisible(TRUE)
}

# A table of an experiment, with one error naming the file when it is missing.
experiment_table <- function(exp, table, columns = character()) {
  data <- exp$tables[[table]]
  path <- file.path(exp$dir, paste0(table, ".csv"))
  if (is.null(data)) {
    fail("missing experiment output: %s", path)
  }
  check_names(names(data), columns, path)
  data
}

#' @export
print.pyode_experiment <- function(x, ...) {
  cat(sprintf("pyode experiment '%s' (%s)\n", x$name, x$dir))
  for (table in names(x$tables)) {
    cat(sprintf(
      "  %s: %d rows, columns %s\n", table, nrow(x$tables[[table]]),
      paste(names(x$tables[[table]]), collapse = ", ")
    ))
  }
  cat(sprintf("  summary: %s\n", paste(names(x$summary), collapse = ", ")))
  cat(sprintf("  figure: %g x %g inches\n", x$figure[[1]], x$figure[[2]]))
  invisible(x)
}

#' @export
print.pyode_runs <- function(x, ...) {
  cat(sprintf("pyode training runs: %d\n", nrow(x$summary)))
  print(x$summary[, c("dataset", "model", "model_label", "final_test_accuracy", "total_seconds")])
  invisible(x)
}
