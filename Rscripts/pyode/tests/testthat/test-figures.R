build <- function(plot) {
  expect_s3_class(plot, "ggplot")
  ggplot2::ggplot_build(plot)
}

test_that("every training figure draws, models in rank order with their labels and colours", {
  runs <- read_runs(write_runs(withr_tempdir()))
  for (name in training_figure_names) {
    built <- build(plot_training(name, runs))
    expect_gt(nrow(built$data[[1]]), 0)
  }
  plot <- plot_accuracy(runs)
  expect_equal(levels(plot$data$model), c("mlp", "resnet", "rknet", "odenet"))
  expect_equal(levels(plot$data$dataset), c("Iceberg", "MNIST"))
  scale <- build(plot)$plot$scales$get_scales("colour")
  expect_equal(scale$get_labels(), c("MLP", "ResNet", "RK-Net", "ODE-Net"), ignore_attr = TRUE)
  colours <- unique(build(plot)$data[[2]][, c("group", "colour")])
  expect_setequal(colours$colour, pyode_palette[1:4])
})

test_that("the NFE figure draws only the continuous-depth runs", {
  runs <- read_runs(write_runs(withr_tempdir()))
  plot <- plot_nfe(runs)
  expect_setequal(unique(as.character(plot$data$model)), c("rknet", "odenet"))
  runs$epochs <- runs$epochs[!runs$epochs$continuous_depth, ]
  expect_error(plot_nfe(runs), "no continuous-depth runs")
})

test_that("figures of runs without label fields use the model names", {
  root <- withr_tempdir()
  write_run(root, "mnist", "b")
  write_run(root, "mnist", "a", nfe = 3)
  runs <- read_runs(root)
  plot <- plot_params(runs)
  expect_equal(levels(plot$data$model), c("a", "b"))
  expect_equal(as.character(unique(plot_nfe(runs)$data$model)), "a")
  build(plot_losses(runs))
})

test_that("plot_params wraps long model labels so that neighbours do not overlap", {
  root <- withr_tempdir()
  write_run(root, "mnist", "odenet", "ODE-Net", 1, TRUE, "MNIST", nfe = 3)
  write_run(root, "mnist", "noblock", "No block (stem + head)", 2, FALSE, "MNIST")
  built <- ggplot2::ggplot_build(plot_params(read_runs(root)))
  labels <- built$layout$panel_params[[1]]$x$get_labels()
  expect_equal(unname(labels), c("ODE-Net", "No block\n(stem + head)"))
})

test_that("figure functions reject bad input with a clear error", {
  expect_error(plot_accuracy(data.frame(model = "mlp")), "lacks columns 'dataset'")
  expect_error(plot_training("nope", list()), "unknown training figure 'nope'")
  expect_error(plot_experiment("nope"), "unknown experiment 'nope': no function plot_nope")
  expect_error(plot_experiment("losses"), "unknown experiment 'losses'")
  expect_equal(figure_size("losses"), c(8, 3.8))
  expect_equal(figure_size("new_experiment"), c(7, 4))
})

test_that("every experiment figure draws from its outputs or its folder", {
  root <- write_experiments(withr_tempdir())
  for (name in basename(list.dirs(root, recursive = FALSE))) {
    built <- build(plot_experiment(name, read_experiment(name, root)))
    expect_gt(nrow(built$data[[1]]), 0)
  }
  memory <- plot_memory(file.path(root, "memory"))
  build(memory)
  kept <- memory$data[memory$data$measure == "kept for the backward pass (MiB)", ]
  expect_equal(kept$mib[kept$mode == "adjoint"], rep(0.5, 3))
  expect_equal(kept$mib[kept$mode == "backprop"], c(2, 16, 64))
  expect_equal(nrow(memory$data), 12)
  unlink(file.path(root, "euler", "convergence.csv"))
  expect_error(plot_euler(file.path(root, "euler")), "missing experiment output: .*convergence.csv")
  expect_error(plot_latent(list()), "expected the result of read_experiment")
})

test_that("plot_cnf draws density and samples from noise to data beside the planar flow", {
  exp <- read_experiment("cnf", write_experiments(withr_tempdir()))
  plot <- plot_cnf(exp)
  built <- build(plot)
  expect_equal(levels(plot$data$flow), c("CNF", "planar, K = 2"))
  expect_setequal(unique(plot$data$panel), c("stage 0", "stage 1", "stage 2"))
  expect_equal(nrow(built$data[[1]]), 5 * 16)
  expect_match(plot$labels$caption, "CNF 2.100 \u00b1 0.020; planar, K = 2 2.400")
  samples <- plot_cnf(exp, "samples")
  expect_equal(nrow(build(samples)$data[[1]]), 25)
  expect_true(all(c("t = 0.00", "t = 1.00", "1 layers") %in% build(samples)$data[[2]]$label))
  exp$tables$densities <- NULL
  expect_error(plot_cnf(exp), "missing experiment output: .*cnf/densities.csv")
})
