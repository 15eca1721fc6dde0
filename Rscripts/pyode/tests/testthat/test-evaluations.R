# The solver each run used, its evaluations over training and its memory against evaluations.

# The folder lives as long as the calling test (`env`).
adaptive_runs <- function(env = parent.frame()) {
  root <- withr_tempdir(env)
  write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST",
    solver = list(method = "dopri5", rtol = 1e-3, atol = 1e-3, adjoint = TRUE)
  )
  write_run(root, "mnist", "rknet", "RK-Net", 2, TRUE, "MNIST", nfe = 20,
    solver = list(method = "dopri5", rtol = 1e-3, atol = 1e-3, adjoint = FALSE)
  )
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", nfe = 14,
    solver = list(method = "dopri5", rtol = 1e-3, atol = 1e-3, adjoint = TRUE)
  )
  root
}

test_that("solver_sentences names each continuous-depth run's solver and gradient", {
  runs <- read_runs(adaptive_runs())
  sentences <- solver_sentences(runs)
  expect_length(sentences, 2)
  rknet <- sentences[grepl("^The RK-Net", sentences)]
  odenet <- sentences[grepl("^The ODE-Net", sentences)]
  expect_match(rknet, "dopri5 with relative tolerance 0.001 and absolute tolerance 0.001")
  expect_match(rknet, "\\(adaptive: the solver chooses its steps")
  expect_match(rknet, "back-propagating through the solver's operations")
  expect_match(odenet, "from the adjoint method")
  root <- withr_tempdir()
  write_run(root, "mnist", "rknet", "RK-Net", 2, TRUE, "MNIST", nfe = 4,
    solver = list(method = "rk4", n_steps = 1, adjoint = FALSE)
  )
  fixed <- solver_sentences(read_runs(root))
  expect_match(fixed, "rk4 with 1 fixed step \\(a fixed grid: the same evaluations in every")
  expect_no_match(fixed, "adaptive")
})

test_that("nfe_training_sentences reads the adaptive runs' iterations", {
  runs <- read_runs(adaptive_runs())
  sentences <- nfe_training_sentences(runs)
  expect_length(sentences, 2)
  odenet <- sentences[grepl("^The ODE-Net", sentences)]
  expect_match(odenet, "took 14.0 forward evaluations per mini-batch on average over its first it")
  expect_match(odenet, "range 14 to 14 over 6 iterations")
  expect_match(odenet, "the adjoint solve, took 14.0 evaluations on average, 1.00 times the")
  rknet <- sentences[grepl("^The RK-Net", sentences)]
  expect_match(rknet, "back-propagated through the 20.0 evaluations it stored on average")
})

test_that("memory_sentences gives first and last epoch of every continuous-depth run", {
  sentences <- memory_sentences(read_runs(adaptive_runs()))
  expect_length(sentences, 2)
  expect_match(sentences, "peaked at 100 MB in its first epoch", all = TRUE)
  expect_true(any(grepl("RK-Net on MNIST \\(back-propagated through the solver\\)", sentences)))
})

test_that("plot_nfe_training draws the adaptive runs, plot_memory_nfe the continuous ones", {
  runs <- read_runs(adaptive_runs())
  plot <- plot_nfe_training(runs)
  expect_setequal(as.character(unique(plot$data$model)), c("rknet", "odenet"))
  forward <- plot$data[plot$data$panel == "forward NFE per iteration", ]
  expect_equal(nrow(forward), 12)
  scatter <- plot$data[plot$data$panel == "backward NFE against forward NFE", ]
  expect_equal(sort(unique(scatter$x)), c(14, 20))
  ggplot2::ggplot_build(plot)
  memory <- plot_memory_nfe(runs)
  expect_setequal(as.character(unique(memory$data$model)), c("rknet", "odenet"))
  expect_equal(memory$data$peak_memory_mb, rep(100, 4))
  ggplot2::ggplot_build(memory)
  root <- withr_tempdir()
  write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST")
  expect_error(plot_nfe_training(read_runs(root)), "no continuous-depth runs")
  expect_error(plot_memory_nfe(read_runs(root)), "no continuous-depth runs")
})
