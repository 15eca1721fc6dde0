test_that("read_runs reads every run with the identity of its summary", {
  root <- write_runs(withr_tempdir())
  runs <- read_runs(root)
  expect_s3_class(runs, "pyode_runs")
  expect_equal(nrow(runs$summary), 6)
  expect_equal(nrow(runs$epochs), 12)
  expect_equal(nrow(runs$iterations), 36)
  expect_true(all(c(
    "dataset", "model", "model_label", "model_rank", "continuous_depth", "dataset_label",
    "images_seen", "loss_ewm"
  ) %in% names(runs$iterations)))
  odenet <- runs$summary[runs$summary$model == "odenet" & runs$summary$dataset == "mnist", ]
  expect_equal(odenet$model_label, "ODE-Net")
  expect_equal(odenet$model_rank, 3)
  expect_true(odenet$continuous_depth)
  expect_equal(odenet$dataset_label, "MNIST")
  expect_equal(odenet$peak_memory_mb, 100)
  expect_output(print(runs), "pyode training runs: 6")
})

test_that("runs without the label fields fall back to their names without an error", {
  root <- withr_tempdir()
  write_run(root, "mnist", "zeta")
  write_run(root, "mnist", "alpha")
  runs <- read_runs(root)
  expect_equal(sort(runs$summary$model_label), c("alpha", "zeta"))
  expect_true(all(is.na(runs$summary$model_rank)))
  info <- model_info(runs$summary)
  expect_equal(info$model, c("alpha", "zeta"))
  expect_equal(info$colour, pyode_palette[1:2])
})

test_that("models are ordered and coloured by rank, unranked ones after them", {
  data <- data.frame(
    model = c("b", "a", "c", "d"), model_label = c("B", "A", NA, NA),
    model_rank = c(0, 4, NA, NA)
  )
  info <- model_info(data)
  expect_equal(info$model, c("b", "a", "c", "d"))
  expect_equal(info$label, c("B", "A", "c", "d"))
  expect_equal(info$colour, pyode_palette[c(1, 5, 6, 7)])
})

test_that("a broken run file gives one error naming the file", {
  root <- write_runs(withr_tempdir())
  run <- file.path(root, "mnist", "odenet")
  writeLines("{not json", file.path(run, "summary.json"))
  expect_error(read_runs(root), "odenet/summary.json is not valid JSON", fixed = TRUE)

  root <- write_runs(withr_tempdir())
  run <- file.path(root, "mnist", "mlp")
  epochs <- utils::read.csv(file.path(run, "epochs.csv"))
  utils::write.csv(epochs[, names(epochs) != "test_accuracy"], file.path(run, "epochs.csv"),
    row.names = FALSE
  )
  expect_error(read_runs(root), "mlp/epochs.csv lacks column 'test_accuracy'", fixed = TRUE)

  root <- write_runs(withr_tempdir())
  run <- file.path(root, "iceberg", "mlp")
  iterations <- utils::read.csv(file.path(run, "iterations.csv"))
  iterations$loss <- as.character(iterations$loss)
  iterations$loss[2] <- "oops"
  utils::write.csv(iterations, file.path(run, "iterations.csv"), row.names = FALSE)
  expect_error(read_runs(root), "iterations.csv: column 'loss' row 2", fixed = TRUE)

  root <- write_runs(withr_tempdir())
  unlink(file.path(root, "mnist", "resnet", "iterations.csv"))
  expect_error(read_runs(root), "missing file: .*resnet/iterations.csv")

  root <- write_runs(withr_tempdir())
  path <- file.path(root, "mnist", "resnet", "summary.json")
  summary <- jsonlite::fromJSON(path)
  summary$model_rank <- "first"
  jsonlite::write_json(summary, path, auto_unbox = TRUE)
  expect_error(read_runs(root), "resnet/summary.json: key 'model_rank' must be a single number",
    fixed = TRUE
  )
})

test_that("read_runs names a missing or empty training folder", {
  root <- withr_tempdir()
  expect_error(read_runs(file.path(root, "nope")), "training folder not found")
  expect_error(read_runs(root), "no training runs under")
})

test_that("read_run reads one run folder", {
  root <- write_runs(withr_tempdir())
  run <- read_run(file.path(root, "mnist", "odenet"))
  expect_s3_class(run, "pyode_run")
  expect_s3_class(run$epochs, "data.frame")
  expect_equal(run$summary$model_label, "ODE-Net")
  expect_output(print(run), "pyode run: ODE-Net on MNIST")
  expect_equal(summary(run)$final_test_accuracy, 0.85)
})

test_that("read_experiment reads the CSVs an experiment declares and its summary, snake_case", {
  root <- withr_tempdir()
  dir <- file.path(root, "newexp")
  write_csv_file(data.frame(`Peak MB` = 1:2, nfeForward = 3:4, check.names = FALSE), dir, "one")
  write_csv_file(data.frame(a = "x"), dir, "two")
  jsonlite::write_json(list(value = 3), file.path(dir, "summary.json"), auto_unbox = TRUE)
  declare_outputs(dir, figure = c(5, 3))
  exp <- read_experiment("newexp", root)
  expect_s3_class(exp, "pyode_experiment")
  expect_equal(names(exp$tables), c("one", "two"))
  expect_equal(names(exp$tables$one), c("peak_mb", "nfe_forward"))
  expect_equal(exp$summary$value, 3)
  expect_equal(exp$figure, c(5, 3))
  expect_equal(figure_size("newexp", exp), c(5, 3))
  expect_output(print(exp), "one: 2 rows")
})

test_that("read_experiment checks the files against the experiment's declaration", {
  root <- withr_tempdir()
  dir <- file.path(root, "exp")
  write_csv_file(data.frame(a = 1, b = 2), dir, "one")
  declare_outputs(dir)
  summary <- jsonlite::read_json(file.path(dir, "summary.json"))
  write_csv_file(data.frame(a = 1), dir, "one")
  expect_error(read_experiment("exp", root), "exp/one.csv lacks column 'b'")
  write_csv_file(data.frame(a = 1, b = 2, c = 3), dir, "one")
  expect_error(
    read_experiment("exp", root), "one.csv has column 'c', which its declaration in summary.json"
  )
  write_csv_file(data.frame(a = 1, b = 2), dir, "one")
  write_csv_file(data.frame(z = 1), dir, "stray")
  expect_error(read_experiment("exp", root), "stray.csv not declared in its summary.json")
  unlink(file.path(dir, c("stray.csv", "one.csv")))
  expect_error(read_experiment("exp", root), "missing experiment output: .*exp/one.csv")
  summary$outputs <- NULL
  jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  expect_error(read_experiment("exp", root), "lacks the experiment's declared outputs")
  summary$outputs <- list(one.csv = I(c("a", "b")))
  summary$figure <- list(width = 7)
  jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  write_csv_file(data.frame(a = 1, b = 2), dir, "one")
  expect_error(read_experiment("exp", root), "lacks the experiment's figure size")
})

test_that("read_experiment names the broken file", {
  root <- withr_tempdir()
  expect_error(read_experiment("none", root), "experiment folder not found")
  dir.create(file.path(root, "empty"))
  expect_error(read_experiment("empty", root), "missing file: .*empty/summary.json")
  dir <- file.path(root, "bad")
  write_csv_file(data.frame(a = 1), dir, "one")
  writeLines("[1,", file.path(dir, "summary.json"))
  expect_error(read_experiment("bad", root), "bad/summary.json is not valid JSON", fixed = TRUE)
  file.create(file.path(dir, "empty.csv"))
  jsonlite::write_json(
    list(
      outputs = list(one.csv = I("a"), empty.csv = I("a")),
      figure = list(width = 7, height = 4)
    ),
    file.path(dir, "summary.json"),
    auto_unbox = TRUE
  )
  expect_error(read_experiment("bad", root), "empty.csv is empty")
})
