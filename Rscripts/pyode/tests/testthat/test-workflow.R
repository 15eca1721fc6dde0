test_that("write_figure writes the training and experiment figures at their sizes", {
  out <- withr_tempdir()
  train <- write_runs(file.path(out, "train"))
  written <- write_figure("training", "accuracy", train, file.path(out, "figures", "accuracy"))
  expect_equal(basename(written), c("accuracy.pdf", "accuracy.png"))
  info <- system2("file", written[[2]], stdout = TRUE)
  expect_match(info, "1600 x 700")  # 8 x 3.5 inches at 200 dpi
  experiments <- write_experiments(file.path(out, "experiments"))
  written <- write_figure(
    "experiment", "memory", file.path(experiments, "memory"), file.path(out, "figures", "m")
  )
  expect_match(system2("file", written[[2]], stdout = TRUE), "1400 x 840")
  expect_error(
    write_figure("training", "loss", train, file.path(out, "x")),
    "unknown training figure 'loss'"
  )
  expect_error(write_figure("other", "loss", train, file.path(out, "x")), "unknown figure kind")
  expect_false(file.exists(file.path(out, "x.pdf")))
})

test_that("figure_command reports one error naming the broken file and writes nothing", {
  out <- withr_tempdir()
  train <- write_runs(file.path(out, "train"))
  epochs <- file.path(train, "iceberg", "mlp", "epochs.csv")
  writeLines(readLines(epochs)[1], epochs)
  stem <- file.path(out, "figures", "accuracy")
  expect_message(
    status <- figure_command(c("training", "accuracy", train, stem), quit = FALSE),
    paste0("pyode figure: error: ", epochs, " has a header but no rows"),
    fixed = TRUE
  )
  expect_equal(status, 1L)
  expect_false(dir.exists(dirname(stem)) && length(list.files(dirname(stem))) > 0)
  expect_message(figure_command(c("training"), quit = FALSE), "usage: figure_command")
})

test_that("check_installed accepts this source and names a function that differs", {
  source <- file.path(withr_tempdir(), "pyode")
  dir.create(file.path(source, "R"), recursive = TRUE)
  expect_error(check_installed(source), "no R files")
  fns <- ls(asNamespace("pyode"))
  fns <- fns[vapply(fns, function(f) is.function(get(f, asNamespace("pyode"))), logical(1))]
  code <- vapply(fns, function(f) {
    paste(f, "<-", paste(deparse(get(f, asNamespace("pyode")), control = NULL), collapse = "\n"))
  }, character(1))
  writeLines(code, file.path(source, "R", "all.R"))
  expect_true(check_installed(source))
  writeLines(c(code, "wilson_interval <- function(x, n, level = 0.95) NULL"),
    file.path(source, "R", "all.R")
  )
  expect_error(check_installed(source), "differs from .* \\(function 'wilson_interval'\\)")
  writeLines(code, file.path(source, "R", "all.R"))
  extdata <- file.path(source, "inst", "extdata")
  dir.create(extdata, recursive = TRUE)
  file.copy(system.file("extdata", "published.csv", package = "pyode"), extdata)
  expect_true(check_installed(source))
  cat("Later source,mnist,mlp,test error (%),,1.50\n", file = file.path(extdata, "published.csv"),
    append = TRUE
  )
  expect_error(check_installed(source), "\\(file 'inst/extdata/published.csv'\\)")
})

test_that("runs repeated per seed are read from seed-N folders and drawn one line each", {
  root <- withr_tempdir()
  for (seed in 0:1) write_run(root, "mnist", "mlp", seed = seed, label = "MLP", rank = 0)
  runs <- read_runs(root)
  expect_equal(nrow(runs$summary), 2)
  expect_equal(runs$summary$seed, c(0, 1))
  expect_equal(unique(runs$summary$model), "mlp")
  built <- ggplot2::ggplot_build(plot_accuracy(runs))
  expect_equal(length(unique(built$data[[2]]$group)), 2)
})

test_that("the NFE figure draws adaptive solvers and states the fixed grids' constant cost", {
  root <- withr_tempdir()
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, nfe = 26,
    solver = list(method = "dopri5", rtol = 1e-3)
  )
  write_run(root, "mnist", "rknet", "RK-Net", 2, TRUE, nfe = 16,
    solver = list(method = "rk4", n_steps = 4)
  )
  runs <- read_runs(root)
  expect_equal(runs$summary$solver[order(runs$summary$model)], c("adaptive", "fixed grid"))
  plot <- plot_nfe(runs)
  expect_equal(as.character(unique(plot$data$model)), "odenet")
  expect_match(plot$labels$caption, "Fixed grid, so a fixed number of evaluations")
  expect_match(plot$labels$caption, "mnist RK-Net: 16 forward")
  # only fixed grids: drawn, and the caption says their cost is fixed
  unlink(file.path(root, "mnist", "odenet"), recursive = TRUE)
  plot <- plot_nfe(read_runs(root))
  expect_equal(as.character(unique(plot$data$model)), "rknet")
  expect_match(plot$labels$caption, "fixed number of evaluations")
})

test_that("a run whose epochs.csv has only its header is an error naming the file", {
  root <- write_runs(withr_tempdir())
  epochs <- file.path(root, "mnist", "rknet", "epochs.csv")
  writeLines(readLines(epochs)[1], epochs)
  expect_error(read_runs(root), paste(epochs, "has a header but no rows"), fixed = TRUE)
  iterations <- file.path(root, "iceberg", "mlp", "iterations.csv")
  root2 <- write_runs(withr_tempdir())
  iterations <- file.path(root2, "iceberg", "mlp", "iterations.csv")
  writeLines(readLines(iterations)[1], iterations)
  expect_error(read_runs(root2), paste(iterations, "has a header but no rows"), fixed = TRUE)
})

test_that("losses of long runs are thinned, keeping each run's first and last iteration", {
  root <- withr_tempdir()
  write_run(root, "mnist", "mlp", epochs = 400)
  plot <- plot_losses(read_runs(root), max_points = 100)
  expect_lte(nrow(plot$data), 101)
  expect_equal(range(plot$data$iteration), c(1, 1200))
})
