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

# Memory against evaluations: the RK-Net keeps 0.1 MB per forward evaluation, the ODE-Net 0.5 MB
# whatever its evaluations; three iterations per epoch, full mini-batches of 32.
memory_runs <- function(env = parent.frame()) {
  root <- withr_tempdir(env)
  nfe <- c(14, 14, 20, 20, 20, 26)
  write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST")
  write_run(root, "mnist", "rknet", "RK-Net", 2, TRUE, "MNIST", nfe = nfe, saved_mb = 0.1 * nfe,
    solver = list(method = "dopri5", rtol = 1e-3, atol = 1e-3, adjoint = FALSE)
  )
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", nfe = nfe, saved_mb = 0.5,
    solver = list(method = "dopri5", rtol = 1e-3, atol = 1e-3, adjoint = TRUE)
  )
  root
}

test_that("memory_sentences gives the memory kept at the fewest and the most evaluations", {
  sentences <- memory_sentences(read_runs(memory_runs()))
  expect_length(sentences, 2)
  rknet <- sentences[grepl("^The RK-Net", sentences)]
  expect_match(rknet, "RK-Net on MNIST \\(back-propagated through the solver\\) kept 1.40 MB")
  expect_match(rknet, "at 14 forward evaluations per mini-batch and 2.60 MB at 26,")
  expect_match(rknet, "0.100 MB per further evaluation")
  odenet <- sentences[grepl("^The ODE-Net", sentences)]
  expect_match(odenet, "\\(adjoint\\) kept 0.500 MB .* at 14 .* 0.500 MB at 26\\.")
  expect_no_match(odenet, "per further evaluation")
  root <- withr_tempdir()
  write_run(root, "mnist", "rknet", "RK-Net", 2, TRUE, "MNIST", nfe = 4, saved_mb = 0.4,
    solver = list(method = "rk4", n_steps = 1, adjoint = FALSE)
  )
  expect_match(
    memory_sentences(read_runs(root)),
    "kept 0.400 MB .* at its 4 forward .* \\(0.100 MB per evaluation\\)"
  )
  root <- withr_tempdir()
  write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST")
  expect_length(memory_sentences(read_runs(root)), 0)
})

test_that("plot_memory_nfe draws memory kept against evaluations, full mini-batches only", {
  root <- memory_runs()
  # a last, smaller mini-batch keeps less and is left out
  path <- file.path(root, "mnist", "rknet", "iterations.csv")
  iterations <- utils::read.csv(path)
  iterations$images_seen[6] <- iterations$images_seen[6] - 16
  iterations$saved_mb[6] <- 99
  utils::write.csv(iterations, path, row.names = FALSE)
  memory <- plot_memory_nfe(read_runs(root))
  expect_setequal(as.character(unique(memory$data$model)), c("rknet", "odenet"))
  rknet <- memory$data[memory$data$model == "rknet", ]
  expect_equal(rknet$nfe_forward, c(14, 20))
  expect_equal(rknet$mb, c(1.4, 2.0))
  expect_equal(rknet$iterations, c(2, 3))
  odenet <- memory$data[memory$data$model == "odenet", ]
  expect_equal(odenet$mb, c(0.5, 0.5, 0.5))
  # no CUDA peak in CPU runs: one panel, the memory kept
  expect_equal(levels(droplevels(memory$data$measure)), "kept for the backward pass (MB)")
  ggplot2::ggplot_build(memory)
  # a CUDA run's allocator peak per step is the second panel
  path <- file.path(root, "mnist", "odenet", "iterations.csv")
  iterations <- utils::read.csv(path)
  iterations$cuda_peak_mb <- 40
  utils::write.csv(iterations, path, row.names = FALSE)
  memory <- plot_memory_nfe(read_runs(root))
  peak <- memory$data[memory$data$measure == "allocator peak of the step (MB, CUDA)", ]
  expect_equal(as.character(unique(peak$model)), "odenet")
  expect_equal(peak$mb, c(40, 40, 40))
  ggplot2::ggplot_build(memory)
})

test_that("plot_nfe_training draws the adaptive runs, plot_memory_nfe the continuous ones", {
  runs <- read_runs(adaptive_runs())
  plot <- plot_nfe_training(runs)
  expect_setequal(as.character(unique(plot$data$model)), c("rknet", "odenet"))
  forward <- plot$data[plot$data$panel == "forward NFE per iteration", ]
  expect_equal(nrow(forward), 12)
  scatter <- plot$data[plot$data$panel == "backward NFE against forward NFE", ]
  expect_equal(sort(unique(scatter$x)), c(14, 20))
  # Each model its own marker, so runs with the same counts do not hide one another.
  built <- ggplot2::ggplot_build(plot)$data[[3]] # the markers
  expect_equal(nrow(unique(built[c("colour", "shape")])), 2)
  expect_equal(length(unique(built$shape)), 2)
  # Over iterations, equal counts of two models are drawn apart (by 0.3 evaluations).
  expect_equal(sort(unique(round(forward$y %% 1, 6))), c(0.15, 0.85))
  root <- withr_tempdir()
  write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST")
  expect_error(plot_nfe_training(read_runs(root)), "no continuous-depth runs")
  expect_error(plot_memory_nfe(read_runs(root)), "no continuous-depth runs")
})
