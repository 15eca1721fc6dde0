test_that("wilson_interval matches known values and prop.test's score interval", {
  # 0 of 10: the upper limit is 0.2775 (Wilson 1927; Brown, Cai and DasGupta 2001)
  zero <- wilson_interval(0, 10)
  expect_equal(zero$lower, 0)
  expect_equal(zero$upper, 0.2775, tolerance = 5e-4)
  # 81 of 263 correct, as counts and as an accuracy
  counts <- wilson_interval(81, 263)
  expect_equal(c(counts$lower, counts$upper), c(0.2553, 0.3662), tolerance = 1e-3)
  expect_equal(wilson_interval(81 / 263, 263), counts)
  for (case in list(c(81, 263), c(9842, 10000), c(3, 7), c(128, 128))) {
    reference <- suppressWarnings(
      stats::prop.test(case[[1]], case[[2]], correct = FALSE)$conf.int
    )
    ours <- wilson_interval(case[[1]], case[[2]])
    expect_equal(c(ours$lower, ours$upper), as.numeric(reference), tolerance = 1e-10)
  }
  wide <- wilson_interval(0.5, 100, level = 0.99)
  narrow <- wilson_interval(0.5, 100, level = 0.9)
  expect_gt(wide$upper - wide$lower, narrow$upper - narrow$lower)
  expect_true(is.na(wilson_interval(NA_real_, 100)$lower))
})

test_that("wilson_interval rejects impossible input", {
  expect_error(wilson_interval(11, 10), "more correct predictions than test examples")
  expect_error(wilson_interval(0.5, 0), "must be positive")
  expect_error(wilson_interval(0.5, 10, level = 95), "'level' must be one number")
  expect_error(wilson_interval("a", 10), "must be numbers")
})

test_that("accuracy_table gives one run its Wilson interval and seeds their mean and sd", {
  root <- write_runs(withr_tempdir())
  table <- accuracy_table(read_runs(root))
  expect_equal(nrow(table), 6)
  expect_equal(table$model[table$dataset == "mnist"], c("mlp", "resnet", "rknet", "odenet"))
  expect_true(all(table$seeds == 1 & is.na(table$accuracy_sd)))
  expected <- wilson_interval(0.85, 200)
  expect_equal(table$lower[[1]], expected$lower)
  expect_equal(table$upper[[1]], expected$upper)

  root <- withr_tempdir()
  for (seed in 0:2) {
    write_run(root, "mnist", "mlp", seed = seed, accuracy = 0.8 + seed / 100, n_test = 100)
  }
  runs <- read_runs(root)
  expect_equal(sort(runs$summary$seed), 0:2)
  table <- accuracy_table(runs)
  expect_equal(table$seeds, 3)
  expect_equal(table$accuracy, 0.81)
  expect_equal(table$accuracy_sd, 0.01)
  pooled <- wilson_interval(243, 300)
  expect_equal(c(table$lower, table$upper), c(pooled$lower, pooled$upper))
  expect_match(
    format_accuracy(table$accuracy, table$lower, table$upper, table$accuracy_sd),
    "^81.00 \u00b1 1.00 \\[7[0-9].[0-9]{2}, 8[0-9].[0-9]{2}\\]$"
  )
  expect_equal(format_accuracy(NA, NA, NA), "--")
  expect_equal(consistent_with(c(0.5, 0.9), 0.6, 0.95), c("no", "yes"))
})

test_that("the test-set size comes from the summary, its data settings or its description", {
  root <- withr_tempdir()
  write_run(root, "mnist", "a", n_test = 64)
  dir <- write_run(root, "mnist", "b", n_test = NULL)
  summary <- jsonlite::fromJSON(file.path(dir, "summary.json"))
  summary$config <- list(data = list(n_test = 32))
  jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  dir <- write_run(root, "mnist", "c", n_test = NULL)
  summary <- jsonlite::fromJSON(file.path(dir, "summary.json"))
  summary$data_description <- "MNIST digits; 5,000 training and 1,000 test images of 28x28"
  jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  write_run(root, "mnist", "d", n_test = NULL)
  # the summary's own n_test wins over the data settings and the description
  dir <- write_run(root, "mnist", "e", n_test = 48)
  summary <- jsonlite::fromJSON(file.path(dir, "summary.json"))
  summary$config <- list(data = list(n_test = 32))
  summary$data_description <- "MNIST digits; 5,000 training and 1,000 test images of 28x28"
  jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  sizes <- read_runs(root)$summary
  expect_equal(sizes$n_test[order(sizes$model)], c(64, 32, 1000, NA, 48))
})
