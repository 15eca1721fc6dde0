test_that("read_runs reads every run of a tree, iceberg without rknet", {
  train <- withr::local_tempdir()
  for (d in names(default_runs)) for (m in default_runs[[d]]) write_fake_run(train, d, m)
  runs <- read_runs(train)
  expect_named(runs, c("iterations", "epochs", "summary"))
  expect_equal(nrow(runs$summary), 7)
  expect_setequal(paste(runs$summary$dataset, runs$summary$model),
                  c(paste("mnist", default_runs$mnist), paste("iceberg", default_runs$iceberg)))
  expect_true(all(iterations_columns %in% names(runs$iterations)))
  expect_true(all(epochs_columns %in% names(runs$epochs)))
  expect_equal(nrow(runs$iterations), 7 * 8)
  expect_type(runs$epochs$nfe_backward_mean, "double")
  # peak memory of a run = the maximum over its epochs (fake epochs: 101, 102, 103 MB)
  expect_equal(unique(runs$summary$peak_memory_mb), 103)
  expect_equal(runs$summary$params, rep(12345, 7))
})

test_that("read_runs names the missing folder", {
  expect_error(read_runs(file.path(tempdir(), "no_such_train_dir")),
               "training folder not found: .*no_such_train_dir")
})

test_that("read_runs rejects a tree without runs", {
  train <- withr::local_tempdir()
  dir.create(file.path(train, "mnist"))
  expect_error(read_runs(train), "no training runs under")
})

test_that("a CSV without a column is named with file and column", {
  train <- withr::local_tempdir()
  write_fake_run(train, "mnist", "mlp")
  run <- write_fake_run(train, "mnist", "odenet",
                        iterations = select(fake_iterations(list(mnist = "odenet")), -dataset,
                                            -model, -loss_ewm))
  expect_error(read_runs(train),
               sprintf("%s lacks column 'loss_ewm'", file.path(run, "iterations.csv")), fixed = TRUE)
})

test_that("a missing file of a run is named", {
  train <- withr::local_tempdir()
  run <- write_fake_run(train, "iceberg", "mlp")
  file.remove(file.path(run, "epochs.csv"))
  expect_error(read_runs(train), "missing file: .*iceberg/mlp/epochs.csv")
})

test_that("a non-numeric value is named with file, column and row", {
  train <- withr::local_tempdir()
  epochs <- select(fake_epochs(list(mnist = "mlp")), -dataset, -model) |>
    mutate(test_accuracy = as.character(test_accuracy))
  epochs$test_accuracy[[2]] <- "high"
  run <- write_fake_run(train, "mnist", "mlp", epochs = epochs)
  expect_error(read_runs(train), "epochs.csv: column 'test_accuracy' row 2: expected a number, got 'high'")
})

test_that("a summary without a key, or without the registry's model facts, is named", {
  train <- withr::local_tempdir()
  run <- write_fake_run(train, "mnist", "mlp", summary = list(params = 10, epochs = 3))
  expect_error(read_runs(train), "summary.json lacks keys 'total_seconds'")
  unlink(run, recursive = TRUE)
  write_fake_run(train, "mnist", "vgg")
  expect_error(read_runs(train), "mnist/vgg/summary.json: key 'model_rank' must be a number")
})
