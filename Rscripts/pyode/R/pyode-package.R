#' pyode: neural ordinary differential equations from R
#'
#' Solve ODEs with [ode_solve()], train models with [train_model()], read the workflow's
#' results with [read_runs()] and [read_experiment()] and draw the paper's figures with the
#' `plot_*()` functions and [save_figure()].
#'
#' @keywords internal
#' @importFrom rlang .data
"_PACKAGE"
