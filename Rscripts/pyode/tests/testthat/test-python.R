test_that("ode_solve solves dy/dt = -y within 1e-5 of the exact solution", {
  skip_if_not(python_ready(), "pyode's Python not found")
  times <- seq(0, 1, by = 0.25)
  solution <- ode_solve(function(t, y) -y, c(1, 2), times)
  expect_s3_class(solution, "data.frame")
  expect_equal(names(solution), c("time", "y1", "y2"))
  exact <- outer(exp(-times), c(1, 2))
  expect_lt(max(abs(as.matrix(solution[, -1]) - exact)), 1e-5)
  named <- ode_solve(function(t, y) -0.5 * y + 1.5, c(level = 2), c(0, 4), method = "rk4",
    step_size = 0.01
  )
  expect_equal(names(named), c("time", "level"))
  expect_lt(abs(named$level[2] - (3 - exp(-2))), 1e-6)
})

test_that("ode_solve solves a stiff problem given as an R function with kvaerno5", {
  skip_if_not(python_ready(), "pyode's Python not found")
  # y' = -1000 (y - cos(t)): explicit methods need ~1000 steps per unit time, kvaerno5 a few
  stiff <- function(t, y) -1000 * (y - cos(t))
  times <- c(0, 0.5, 1)
  solution <- ode_solve(stiff, 0, times, method = "kvaerno5", rtol = 1e-8, atol = 1e-8)
  # y = (1e6 cos t + 1e3 sin t - 1e6 exp(-1000 t)) / (1e6 + 1)
  exact <- (1e6 * cos(times) + 1e3 * sin(times) - 1e6 * exp(-1000 * times)) / (1e6 + 1)
  expect_lt(max(abs(solution$y1 - exact)), 1e-6)
})

test_that("ode_solve returns the states reached with on_failure = \"return\"", {
  skip_if_not(python_ready(), "pyode's Python not found")
  times <- seq(0, 2.1, by = 0.3)
  # y' = y^2 from y(0) = 1: y = 1 / (1 - t), which blows up at t = 1 (no output time there).
  solution <- ode_solve(function(t, y) y^2, 1, times, on_failure = "return")
  expect_equal(attr(solution, "status"), "step_underflow")
  expect_lt(abs(attr(solution, "t_reached") - 1), 1e-3)
  reached <- times < 1
  expect_lt(max(abs(solution$y1[reached] - 1 / (1 - times[reached]))), 1e-4)
  expect_true(all(is.nan(solution$y1[!reached])))
  fine <- ode_solve(function(t, y) -y, 1, times)
  expect_equal(attr(fine, "status"), "success")
  expect_equal(attr(fine, "t_reached"), 2.1)
  expect_error(ode_solve(function(t, y) y^2, 1, times), "step size underflow",
    class = "pyode_error"
  )
  expect_error(ode_solve(function(t, y) -y, 1, times, on_failure = "skip"), "on_failure",
    class = "pyode_error"
  )
})

test_that("solver and field errors arrive as R conditions with pyode's message", {
  skip_if_not(python_ready(), "pyode's Python not found")
  expect_error(ode_solve(function(t, y) -y, 1, c(0, 1), method = "nope"),
    "unknown method 'nope'",
    class = "pyode_error"
  )
  expect_error(ode_solve(function(t, y) c(1, 2), 1, c(0, 1)), "must return 1 number",
    class = "pyode_error"
  )
  expect_error(ode_solve(function(t, y) stop("boom"), 1, c(0, 1)), "func\\(t, y\\) failed: boom",
    class = "pyode_error"
  )
  expect_error(ode_solve(function(t, y) -y, NA, c(0, 1)), "'y0' must be finite numbers")
  expect_error(ode_solve("f", 1, c(0, 1)), "must be a function")
})

test_that("train_model trains with R settings and returns the run", {
  skip_if_not(python_ready(), "pyode's Python not found")
  out <- file.path(withr_tempdir(), "run")
  run <- train_model("mnist", "mlp", epochs = 1, n_train = 128, n_test = 64, out = out,
    batch_size = 64, threads = 1
  )
  expect_s3_class(run, "pyode_run")
  expect_s3_class(run$epochs, "data.frame")
  expect_equal(nrow(run$epochs), 1)
  expect_equal(nrow(run$iterations), 2)
  expect_equal(run$summary$model, "mlp")
  expect_true(file.exists(file.path(out, "model.pt")))
  expect_output(print(run), "1 epoch, 2 iterations")
  expect_equal(summary(run)$epochs, 1)
  expect_error(train_model("mnist", "mlp", epochs = 1, out = out, bogus = 1),
    "unknown setting 'bogus'",
    class = "pyode_error"
  )
  expect_error(train_model("mnist", "mlp", 1, 5), "every setting needs a name")
})

test_that("the Python is found from RETICULATE_PYTHON or a project's .venv", {
  root <- withr_tempdir()
  venv <- file.path(root, ".venv", "bin")
  dir.create(venv, recursive = TRUE)
  file.create(file.path(venv, "python"))
  dir.create(file.path(root, "a", "b"), recursive = TRUE)
  expect_equal(
    normalizePath(pyode:::project_python(file.path(root, "a", "b"), root = "")),
    normalizePath(file.path(venv, "python"))
  )
  expect_true(is.na(pyode:::project_python("/", root = "")))
  old <- Sys.getenv("RETICULATE_PYTHON", NA)
  on.exit(
    if (is.na(old)) Sys.unsetenv("RETICULATE_PYTHON") else Sys.setenv(RETICULATE_PYTHON = old)
  )
  Sys.setenv(RETICULATE_PYTHON = file.path(root, "missing"))
  expect_error(pyode_python(), "RETICULATE_PYTHON is .*missing, which does not exist")
  Sys.unsetenv("RETICULATE_PYTHON")
  expect_equal(
    normalizePath(pyode_python(file.path(root, "a"))), normalizePath(file.path(venv, "python"))
  )
})
