# Runs of the project's models plus an ablation, two of them repeated per seed.
write_paper_runs <- function(root) {
  write_runs(root)
  write_run(root, "mnist", "noblock", "No block (stem + head)", 4, FALSE, "MNIST",
    accuracy = 0.5
  )
  root
}

test_that("configured_runs lists the runs of the configuration's runs block", {
  wanted <- configured_runs(list(mnist = c("mlp", "odenet"), iceberg = list()))
  expect_equal(wanted$dataset, c("mnist", "mnist"))
  expect_equal(wanted$model, c("mlp", "odenet"))
  expect_equal(nrow(configured_runs(list())), 0)
  expect_error(configured_runs("mnist"), "'config_runs' must be a list")
})

test_that("select_runs keeps the configured runs in every table and names missing ones", {
  runs <- read_runs(write_paper_runs(withr_tempdir()))
  kept <- select_runs(runs, configured_runs(list(mnist = c("odenet", "noblock"))))
  expect_s3_class(kept, "pyode_runs")
  expect_equal(sort(kept$summary$model), c("noblock", "odenet"))
  expect_equal(length(kept$summaries), 2)
  expect_equal(vapply(kept$summaries, `[[`, "", "model"), kept$summary$model)
  expect_setequal(unique(kept$epochs$model), c("noblock", "odenet"))
  expect_setequal(unique(kept$iterations$model), c("noblock", "odenet"))
  expect_error(
    select_runs(runs, configured_runs(list(mnist = c("odenet", "zeta"), cifar = "mlp"))),
    "no training run of mnist/zeta, cifar/mlp"
  )
  expect_error(select_runs(runs$summary, kept$summary), "result of read_runs")
})

test_that("run_results adds test error, NFE of continuous-depth models and devices", {
  runs <- read_runs(write_paper_runs(withr_tempdir()))
  results <- run_results(runs)
  expect_equal(nrow(results), 7)
  expect_equal(results$model[results$dataset == "mnist"], c(
    "mlp", "resnet", "rknet", "odenet", "noblock"
  ))
  expect_equal(results$error, 1 - results$accuracy)
  odenet <- results[results$dataset == "mnist" & results$model == "odenet", ]
  expect_equal(c(odenet$nfe_forward, odenet$nfe_backward), c(8, 8))
  expect_true(all(is.na(results$nfe_forward[!results$continuous_depth])))
  expect_true(all(results$device == "cpu"))
})

test_that("run_summary gives the lowest seed's summary and NULL for a run not made", {
  root <- withr_tempdir()
  write_run(root, "mnist", "odenet", seed = 2, accuracy = 0.9)
  write_run(root, "mnist", "odenet", seed = 1, accuracy = 0.8)
  runs <- read_runs(root)
  expect_equal(run_summary(runs, "mnist", "odenet")$seed, 1)
  expect_null(run_summary(runs, "mnist", "mlp"))
  expect_equal(run_seeds(runs), c(1, 2))
  expect_equal(summary_values(runs, "final_test_accuracy"), c(0.8, 0.9))
  expect_equal(summary_values(runs, "cpu_threads"), c(NA_real_, NA_real_))
})

test_that("run_data gives each dataset's label, source and description once, in rank order", {
  root <- withr_tempdir()
  for (dataset in c("zeta", "alpha")) {
    dir <- write_run(root, dataset, "mlp", dataset_label = toupper(dataset))
    summary <- jsonlite::read_json(file.path(dir, "summary.json"))
    summary$dataset_rank <- if (dataset == "zeta") 0 else 1
    summary$data_source <- "synthetic"
    summary$data_description <- "10\u2009000 images \u2013 one class"
    jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  }
  write_run(root, "zeta", "resnet", dataset_label = "ZETA")
  data <- run_data(read_runs(root))
  expect_equal(data$dataset, c("zeta", "alpha"))
  expect_equal(data$label, c("ZETA", "ALPHA"))
  expect_equal(data$source, c("synthetic", "synthetic"))
  expect_equal(data$description[[1]], "10 000 images - one class")
})

test_that("read_experiments reads the experiments that ran and experiment_output their files", {
  root <- withr_tempdir()
  write_experiments(root)
  dir.create(file.path(root, "unfinished"))
  experiments <- read_experiments(root)
  expect_true(all(c("spiral", "latent", "memory") %in% names(experiments)))
  expect_false("unfinished" %in% names(experiments))
  expect_null(experiments$never_ran)
  expect_s3_class(experiments$spiral, "pyode_experiment")
  expect_equal(nrow(experiment_output(experiments$latent, "metrics.csv")), 4)
  expect_error(
    experiment_output(experiments$latent, "absent.csv"),
    "missing experiment output: .*latent/absent.csv"
  )
  expect_error(experiment_output(NULL, "metrics.csv"), "result of read_experiment")
  expect_equal(length(read_experiments(file.path(root, "nothing"))), 0)
})

test_that("required_file names a file that does not exist", {
  path <- tempfile(fileext = ".pdf")
  expect_error(required_file(path), paste0("the paper needs ", path))
  file.create(path)
  expect_equal(required_file(path), path)
  unlink(path)
})
