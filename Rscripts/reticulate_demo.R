# pyode from R through reticulate: solve an ODE with pyode.odeint, differentiate the solution with
# the adjoint method, and train a small classifier with pyode.train, all from an R session.
#
# Usage: RETICULATE_PYTHON=.venv/bin/python Rscript --vanilla Rscripts/reticulate_demo.R [OUT_DIR] [MODEL]
#   OUT_DIR  where the training run writes its files (default: a temporary folder)
#   MODEL    mlp | resnet | odenet | rknet (default mlp), trained on 256 MNIST digits for one epoch
#
# Exits non-zero if any number disagrees with its exact value or the run leaves no output.

repo_root <- function() {
  file_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
  if (length(file_arg) == 1) {
    return(dirname(dirname(normalizePath(sub("^--file=", "", file_arg)))))
  }
  getwd()
}

check <- function(ok, message) {
  if (!isTRUE(ok)) stop(message, call. = FALSE)
}

# Tensor -> R numbers through a Python list: reticulate 1.28 cannot convert NumPy 2 arrays.
tensor_values <- function(x) as.numeric(unlist(x$detach()$flatten()$tolist()))

# dy/dt = -y/2 + 3/2, y(0) = 2, has the exact solution y(t) = 3 - exp(-t/2); the derivative of
# y(T) with respect to y(0) is exp(-T/2).
solve_ode <- function(torch, pyode) {
  field <- function(t, y) y$mul(-0.5)$add(1.5)  # called by the Python solver with torch tensors
  times <- c(0, 0.5, 1, 2, 4)
  t <- torch$tensor(times, dtype = torch$float64)
  y0 <- torch$tensor(list(2), dtype = torch$float64, requires_grad = TRUE)
  # An R function has no parameters torch can see: say so (adjoint_params = list()), and the
  # adjoint differentiates with respect to y0 and t alone.
  solution <- pyode$odeint(field, y0, t, method = "dopri5", rtol = 1e-8, atol = 1e-8,
                           adjoint = TRUE, adjoint_params = list())
  py_get_item(solution, -1L)$sum()$backward()
  table <- data.frame(
    t = times,
    pyode = tensor_values(solution),
    exact = 3 - exp(-times / 2)
  )
  table$abs_error <- abs(table$pyode - table$exact)
  gradient <- data.frame(
    quantity = "dy(4)/dy(0)",
    adjoint = tensor_values(y0$grad),
    exact = exp(-2)
  )
  gradient$abs_error <- abs(gradient$adjoint - gradient$exact)
  list(table = table, gradient = gradient)
}

train_model <- function(pyode_train, root, out_dir, model) {
  profile <- pyode_train$load_profile(file.path(root, ".test", "config.yaml"))
  overrides <- list(
    "data.n_train" = 256L, "data.n_test" = 128L, "epochs" = 1L, "threads" = 1L, "quiet" = TRUE
  )
  config <- pyode_train$resolve_config(profile, "mnist", model, overrides)
  summary <- pyode_train$train(config, out_dir)
  iterations <- read.csv(file.path(out_dir, "iterations.csv"))
  epochs <- read.csv(file.path(out_dir, "epochs.csv"))
  data.frame(
    dataset = summary$dataset, model = summary$model, params = summary$params,
    iterations = nrow(iterations), first_loss = iterations$loss[[1]],
    last_loss_ewm = iterations$loss_ewm[[nrow(iterations)]],
    test_accuracy = summary$final_test_accuracy, nfe_forward = epochs$nfe_forward_mean[[1]],
    seconds = summary$total_seconds
  )
}

main <- function(args) {
  python <- Sys.getenv("RETICULATE_PYTHON", "")
  check(nzchar(python), "RETICULATE_PYTHON is not set: point it at the project's Python (.venv/bin/python)")
  check(file.exists(python), sprintf("RETICULATE_PYTHON=%s does not exist", python))
  suppressPackageStartupMessages(library(reticulate))
  use_python(python, required = TRUE)
  out_dir <- if (length(args) >= 1) args[[1]] else file.path(tempdir(), "reticulate_run")
  model <- if (length(args) >= 2) args[[2]] else "mlp"

  torch <- import("torch")
  torch$set_num_threads(1L)
  pyode <- import("pyode")
  pyode_train <- import("pyode.train")
  cat(sprintf("Python %s, torch %s, pyode %s\n", py_config()$version, torch$`__version__`,
              pyode$`__version__`))

  ode <- solve_ode(torch, pyode)
  cat("\ndy/dt = -y/2 + 3/2, y(0) = 2, solved by pyode.odeint (dopri5, tol 1e-8) from R:\n")
  print(ode$table, digits = 10, row.names = FALSE)
  print(ode$gradient, digits = 10, row.names = FALSE)
  check(max(ode$table$abs_error) < 1e-6, "pyode.odeint disagrees with the exact solution")
  check(ode$gradient$abs_error < 1e-6, "the adjoint gradient disagrees with exp(-T/2)")

  run <- train_model(pyode_train, repo_root(), out_dir, model)
  cat(sprintf("\npyode.train.train from R (output in %s):\n", out_dir))
  print(run, digits = 4, row.names = FALSE)
  check(all(file.exists(file.path(out_dir, c("iterations.csv", "epochs.csv", "summary.json")))),
        sprintf("the training run left no complete output in %s", out_dir))
  check(run$test_accuracy >= 0 && run$test_accuracy <= 1, "test accuracy outside [0, 1]")
  check(is.finite(run$last_loss_ewm), "training loss is not finite")

  # rpy2 starts its own R; inside this R session the bridge must refuse instead of nesting.
  interop <- import("pyode.interop")
  refused <- tryCatch({
    interop$to_r_dataframe(NULL)
    FALSE
  }, error = function(e) grepl("reticulate", conditionMessage(e)))
  check(refused, "pyode.interop did not refuse to start R inside reticulate")
  check(!py_eval("'rpy2' in __import__('sys').modules"),
        "rpy2 was imported inside the reticulate session")
  cat("\npyode.interop (rpy2) refuses to run inside reticulate: each direction keeps its process\n")
  invisible(NULL)
}

if (sys.nframe() == 0L) {
  status <- tryCatch(
    {
      main(commandArgs(trailingOnly = TRUE))
      0L
    },
    error = function(e) {
      message("reticulate_demo.R: error: ", conditionMessage(e))
      1L
    }
  )
  quit(save = "no", status = status)
}
