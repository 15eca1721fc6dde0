#' Solve an ordinary differential equation with pyode's solvers
#'
#' `func(t, y)` is a plain R function of a number `t` and a numeric vector `y` returning
#' dy/dt as a numeric vector of the same length. The values are converted to and from Python
#' by the package; the solver runs in double precision.
#'
#' @param func The vector field, `function(t, y)`.
#' @param y0 Initial state (numeric vector) at `times[1]`.
#' @param times Increasing (or decreasing) output times, the first being the initial time.
#' @param method Any method of pyode's solver: `"dopri5"`, `"tsit5"`, `"dopri8"`, `"bosh3"`,
#'   `"fehlberg2"`, `"adaptive_heun"` (adaptive); `"kvaerno5"`, `"kvaerno3"` (adaptive,
#'   implicit: stiff problems; the Jacobian of an R function by finite differences);
#'   `"rk4"`, `"heun3"`, `"heun2"`, `"midpoint"`, `"euler"`, `"explicit_adams"`,
#'   `"implicit_adams"`, `"fixed_adams"`, `"implicit_euler"` (fixed grid: give `step_size` or
#'   `n_steps`); `"scipy_solver"` (scipy's `solve_ivp`, option `solver`).
#' @param rtol,atol Relative and absolute tolerances of the adaptive methods.
#' @param on_failure `"raise"` (an error when the step limit is hit, the step size underflows or
#'   the state turns non-finite) or `"return"`: the states at the times reached, `NaN` after them.
#' @param ... Solver options by name, e.g. `step_size = 0.01` or `max_num_steps = 1000`.
#' @return A data frame with column `time` and one column per state component (`y1`, `y2`, ...,
#'   or the names of `y0`), with attributes `status` (`"success"`, `"max_num_steps"`,
#'   `"step_underflow"` or `"non_finite"`) and `t_reached` (the last time the solution reached).
#' @examples
#' \dontrun{
#' ode_solve(function(t, y) -y, c(1, 2), seq(0, 1, by = 0.25))
#' blow_up <- ode_solve(function(t, y) y^2, 1, seq(0, 2, by = 0.25), on_failure = "return")
#' attr(blow_up, "status") # "step_underflow", near t = 1
#' }
#' @export
ode_solve <- function(func, y0, times, method = "dopri5", rtol = 1e-6, atol = 1e-6,
                      on_failure = "raise", ...) {
  if (!is.function(func)) {
    stop("ode_solve: 'func' must be a function(t, y)", call. = FALSE)
  }
  check_numbers(y0, "y0")
  check_numbers(times, "times")
  if (length(times) < 2) {
    stop("ode_solve: 'times' needs at least two values", call. = FALSE)
  }
  n_state <- length(y0)
  failure <- new.env(parent = emptyenv())
  field <- function(t, y) {
    value <- func(as.numeric(t), as.numeric(unlist(y)))
    if (!is.numeric(value) || length(value) != n_state) {
      stop(sprintf(
        "func(t, y) must return %d number%s, returned %s", n_state,
        if (n_state > 1) "s" else "", paste(class(value), collapse = "/")
      ), call. = FALSE)
    }
    as.list(as.numeric(value))
  }
  field_checked <- function(t, y) {
    tryCatch(field(t, y), error = function(e) {
      if (is.null(failure$condition)) failure$condition <- e
      stop(e)
    })
  }
  options <- list(...)
  result <- py_helpers()$solve(
    field_checked, as.list(as.numeric(y0)), as.list(as.numeric(times)),
    method = method, rtol = rtol, atol = atol,
    options = if (length(options) > 0) integer_settings(options) else NULL,
    on_failure = on_failure
  )
  if (!is.null(failure$condition)) {
    rlang::abort(
      sprintf("ode_solve: func(t, y) failed: %s", conditionMessage(failure$condition)),
      class = "pyode_error"
    )
  }
  check_python_result(result, "ode_solve")
  states <- matrix(as.numeric(unlist(result$states)), ncol = n_state, byrow = TRUE)
  columns <- if (is.null(names(y0))) paste0("y", seq_len(n_state)) else names(y0)
  out <- data.frame(time = as.numeric(times), states)
  names(out) <- c("time", columns)
  attr(out, "status") <- result$status
  attr(out, "t_reached") <- result$t_reached
  out
}

check_numbers <- function(x, what) {
  if (!is.numeric(x) || length(x) == 0 || any(!is.finite(x))) {
    stop(sprintf("ode_solve: '%s' must be finite numbers", what), call. = FALSE)
  }
  invisible(x)
}

is_whole_number <- function(value) {
  is.double(value) && length(value) == 1 && isTRUE(is.finite(value)) &&
    value == round(value) && abs(value) < .Machine$integer.max
}

# Whole numbers as integers (pyode's settings check types: 128 must be an int, not 128.0).
integer_settings <- function(settings) {
  lapply(settings, function(value) {
    if (is.list(value)) {
      return(integer_settings(value))
    }
    if (is_whole_number(value)) as.integer(value) else value
  })
}
