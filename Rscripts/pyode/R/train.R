#' Train one of the project's models
#'
#' Trains through Python's `pyode.train` with the project's default profile
#' (`config/config.yaml`), any setting overridden by name: training settings (`epochs`,
#' `batch_size`, `lr`, `threads`, `solver = list(rtol = 1e-4)`, ...) and data settings
#' (`n_train`, `n_test`, `source`, `path`, ...). Dotted names work too
#' (`"solver.method" = "rk4"`).
#'
#' @param dataset `"mnist"` or `"iceberg"`.
#' @param model A model of that dataset in pyode's registry, e.g. `"mlp"`, `"resnet"`,
#'   `"odenet"`, `"rknet"` or `"noblock"` (MNIST).
#' @param epochs Number of epochs; `NULL` keeps the profile's.
#' @param ... Settings by name.
#' @param out The run folder for `iterations.csv`, `epochs.csv`, `summary.json`, `model.pt`.
#' @param profile A training profile (YAML); `NULL` for the project's default.
#' @return A `pyode_run`: `$epochs` and `$iterations` data frames, `$summary` (a list) and `$dir`.
#' @examples
#' \dontrun{
#' run <- train_model("mnist", "mlp", epochs = 1, n_train = 128, n_test = 64)
#' run$epochs
#' }
#' @export
train_model <- function(dataset, model, epochs = NULL, ..., out = tempfile("pyode-run-"),
                        profile = NULL) {
  settings <- list(...)
  if (length(settings) > 0 && (is.null(names(settings)) || any(!nzchar(names(settings))))) {
    fail("train_model: every setting needs a name, e.g. n_train = 128")
  }
  if (!is.null(epochs)) settings$epochs <- epochs
  if (is.null(settings$quiet)) settings$quiet <- TRUE
  result <- py_helpers()$train_run(
    as.character(dataset), as.character(model), path.expand(out),
    settings = integer_settings(settings), profile = profile
  )
  check_python_result(result, "train_model")
  read_run(out)
}

#' Read one training run folder
#'
#' @param dir A run folder (`results/train/DATASET/MODEL`).
#' @return A `pyode_run` (see [train_model()]).
#' @export
read_run <- function(dir) {
  files <- read_run_files(dir)
  id <- run_identity(files$summary, normalizePath(dir, mustWork = FALSE))
  structure(
    list(
      dir = dir, epochs = files$epochs, iterations = files$iterations,
      summary = files$summary, identity = id
    ),
    class = "pyode_run"
  )
}

#' @export
print.pyode_run <- function(x, ...) {
  s <- x$summary
  cat(sprintf(
    "pyode run: %s on %s (%s)\n", x$identity$model_label, x$identity$dataset_label, x$dir
  ))
  cat(sprintf(
    "  %s parameters, %d epoch%s, %d iterations, %.1f s\n",
    format(s$params, big.mark = ","), nrow(x$epochs), if (nrow(x$epochs) == 1) "" else "s",
    nrow(x$iterations), s$total_seconds
  ))
  cat(sprintf(
    "  test accuracy: final %.2f%%, best %.2f%%\n",
    100 * s$final_test_accuracy, 100 * s$best_test_accuracy
  ))
  invisible(x)
}

#' @export
summary.pyode_run <- function(object, ...) {
  s <- object$summary
  tibble::tibble(
    dataset = object$identity$dataset, model = object$identity$model,
    model_label = object$identity$model_label, params = s$params, epochs = nrow(object$epochs),
    final_test_accuracy = s$final_test_accuracy, best_test_accuracy = s$best_test_accuracy,
    final_train_loss = object$epochs$train_loss[nrow(object$epochs)],
    total_seconds = s$total_seconds
  )
}
