# The figures as the workflow writes them, and the command its figure rules run.

#' Write one figure of the workflow
#'
#' Reads the inputs, draws the figure and saves `stem.pdf` and `stem.png` at the figure's size
#' ([figure_size()]) with [save_figure()]: both files or neither.
#'
#' @param kind `"training"` (a figure of [training_figure_names], drawn from the runs under
#'   `input`, e.g. `results/train`) or `"experiment"` (drawn by `plot_<name>()`, see
#'   [plot_experiment()], from the experiment folder `input`, e.g. `results/experiments/spiral`,
#'   at the size its `summary.json` declares).
#' @param name The figure.
#' @param input The training folder or the experiment folder.
#' @param stem Output path without extension.
#' @return The two paths written, invisibly.
#' @export
write_figure <- function(kind, name, input, stem) {
  kinds <- c("training", "experiment")
  if (!is.character(kind) || length(kind) != 1 || !kind %in% kinds) {
    fail("unknown figure kind '%s' (expected training or experiment)", paste(kind, collapse = ","))
  }
  # the name is checked before any file is read
  if (kind == "training") {
    if (!is.character(name) || length(name) != 1 || !name %in% training_figure_names) {
      fail(
        "unknown training figure '%s' (expected one of %s)", paste(name, collapse = ","),
        paste(training_figure_names, collapse = ", ")
      )
    }
    plot <- plot_training(name, read_runs(input))
    size <- figure_size(name)
  } else {
    draw <- experiment_plot_function(name)
    exp <- read_experiment(basename(input), dirname(input))
    plot <- draw(exp)
    size <- exp$figure
  }
  save_figure(plot, stem, width = size[[1]], height = size[[2]])
}

#' Check that the installed package is the one in a source folder
#'
#' Compares every function of the installed package with the function of the same name defined
#' by the source folder's `R/` files, and its data files (`inst/extdata/`, e.g. the published
#' values) with the installed ones, so that the workflow never draws with a stale installed copy.
#'
#' @param source The package's source folder, e.g. `Rscripts/pyode`.
#' @return `TRUE`, invisibly; an error naming the first function or file that differs otherwise.
#' @export
check_installed <- function(source) {
  files <- sort(list.files(file.path(source, "R"), pattern = "\\.R$", full.names = TRUE))
  if (length(files) == 0) {
    fail("no R files in %s/R: not the source of the package pyode", source)
  }
  defined <- new.env(parent = asNamespace("pyode"))
  for (file in files) sys.source(file, envir = defined, keep.source = FALSE)
  installed <- asNamespace("pyode")
  names <- sort(union(ls(defined), ls(installed)))
  body_of <- function(env, name) {
    if (!exists(name, envir = env, inherits = FALSE)) {
      return(NULL)
    }
    value <- get(name, envir = env, inherits = FALSE)
    if (is.function(value)) deparse(value, control = NULL) else NULL
  }
  differs <- function(what) {
    fail(
      "the installed R package pyode (%s) differs from %s (%s): reinstall it with `make rpackage`",
      find.package("pyode"), source, what
    )
  }
  for (name in names) {
    if (!identical(body_of(defined, name), body_of(installed, name))) {
      differs(sprintf("function '%s'", name))
    }
  }
  stale <- stale_data_file(source)
  if (!is.null(stale)) {
    differs(sprintf("file 'inst/extdata/%s'", stale))
  }
  invisible(TRUE)
}

# The first data file of the source folder (inst/extdata) whose installed copy differs or is
# missing, else NULL.
stale_data_file <- function(source) {
  for (file in sort(list.files(file.path(source, "inst", "extdata"), full.names = TRUE))) {
    copy <- system.file("extdata", basename(file), package = "pyode")
    if (!nzchar(copy) || !identical(readLines(file, warn = FALSE), readLines(copy, warn = FALSE))) {
      return(basename(file))
    }
  }
  NULL
}

#' The command of the workflow's figure rules
#'
#' `Rscript --vanilla -e 'pyode::figure_command()' KIND NAME INPUT OUT_STEM [SOURCE]` writes
#' `OUT_STEM.pdf` and `OUT_STEM.png` with [write_figure()]; with `SOURCE` (the package's source
#' folder) it first checks with [check_installed()] that the installed package is that source.
#' Errors end the R session with status 1 and one line `pyode figure: error: ...`.
#'
#' @param args The command-line arguments.
#' @param quit Whether to end the R session (with status 0 or 1) when done.
#' @return The status, invisibly, when `quit` is `FALSE`.
#' @export
figure_command <- function(args = commandArgs(trailingOnly = TRUE), quit = TRUE) {
  status <- tryCatch(
    {
      if (!length(args) %in% c(4, 5)) {
        fail("usage: figure_command() KIND NAME INPUT OUT_STEM [PACKAGE_SOURCE]")
      }
      if (length(args) == 5) check_installed(args[[5]])
      written <- write_figure(args[[1]], args[[2]], args[[3]], args[[4]])
      cat(sprintf("wrote %s\n", written), sep = "")
      0L
    },
    error = function(e) {
      message("pyode figure: error: ", conditionMessage(e))
      1L
    }
  )
  if (quit) {
    quit(save = "no", status = status)
  }
  invisible(status)
}
