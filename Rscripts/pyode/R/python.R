# Finding the project's Python and the package's Python helpers (pyode.interop.rpackage).

# The project folder the package was installed from (set by `make` through PYODE_PROJECT_ROOT at
# install time, when this file is evaluated); "" when installed some other way.
install_root <- Sys.getenv("PYODE_PROJECT_ROOT", "")

# The project's virtual environment: .venv in the working directory or a folder above it, else
# the .venv of the project the package was installed from.
project_python <- function(start = getwd(), root = install_root) {
  dir <- normalizePath(start, mustWork = FALSE)
  repeat {
    candidate <- file.path(dir, ".venv", "bin", "python")
    if (file.exists(candidate)) {
      return(candidate)
    }
    parent <- dirname(dir)
    if (parent == dir) break
    dir <- parent
  }
  if (nzchar(root)) {
    candidate <- file.path(root, ".venv", "bin", "python")
    if (file.exists(candidate)) {
      return(candidate)
    }
  }
  NA_character_
}

#' The Python interpreter that pyode uses
#'
#' `RETICULATE_PYTHON` when set, else the project's `.venv` (in the working directory or a folder
#' above it, else in the project the package was installed from). Fails with a message saying
#' what to set when neither exists.
#'
#' @param start Folder where the search for `.venv` begins.
#' @return The path of the Python executable.
#' @export
pyode_python <- function(start = getwd()) {
  from_env <- Sys.getenv("RETICULATE_PYTHON", "")
  if (nzchar(from_env)) {
    if (!file.exists(from_env)) {
      stop(sprintf("RETICULATE_PYTHON is %s, which does not exist", from_env), call. = FALSE)
    }
    return(from_env)
  }
  found <- project_python(start)
  if (is.na(found)) {
    stop(
      "no Python for pyode: set RETICULATE_PYTHON to the Python that has pyode installed ",
      "(e.g. the project's .venv/bin/python after `make setup`), or start R inside the project",
      call. = FALSE
    )
  }
  found
}

helper_cache <- new.env(parent = emptyenv())

# The Python module pyode.interop.rpackage, imported once per session.
py_helpers <- function() {
  if (is.null(helper_cache$module)) {
    python <- pyode_python()
    if (!reticulate::py_available(initialize = FALSE)) {
      reticulate::use_python(python, required = TRUE)
    }
    helper_cache$module <- tryCatch(
      reticulate::import("pyode.interop.rpackage", convert = TRUE),
      error = function(e) {
        stop(sprintf(
          "cannot import pyode with Python %s: %s", reticulate::py_config()$python,
          conditionMessage(e)
        ), call. = FALSE)
      }
    )
  }
  helper_cache$module
}

# Stop with an R condition of class `pyode_error` carrying pyode's message when Python failed.
check_python_result <- function(result, what) {
  if (isTRUE(result$ok)) {
    return(invisible(result))
  }
  rlang::abort(
    sprintf("%s: %s: %s", what, result$error, result$message),
    class = "pyode_error", python_class = result$error, python_message = result$message
  )
}
