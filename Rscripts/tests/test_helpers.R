test_that("models are ordered, labelled and coloured by the rank their runs record", {
  runs <- run_grid()
  key <- model_key(runs)
  expect_identical(key$model, c("mlp", "resnet", "rknet", "odenet"))
  expect_identical(key$label, c("MLP", "ResNet", "RK-Net", "ODE-Net"))
  expect_identical(key$colour, rank_palette[1:4])
  expect_true(all(grepl("^#[0-9A-Fa-f]{6}$", rank_palette)))
  expect_equal(anyDuplicated(rank_palette), 0)
  f <- model_factor(filter(runs, model %in% c("odenet", "mlp", "rknet")))
  expect_identical(levels(f), c("mlp", "rknet", "odenet"))
})

test_that("a model unknown to R needs no R change, and disagreeing runs are an error", {
  runs <- bind_rows(run_grid(), tibble(
    dataset = "mnist", model = "augnet", model_label = "ANODE", model_rank = 4L,
    continuous_depth = TRUE, dataset_label = "MNIST", dataset_rank = 0L
  ))
  expect_identical(model_labels_of(runs)[["augnet"]], "ANODE")
  expect_identical(model_key(runs)$colour[[5]], rank_palette[[5]])
  bad <- mutate(run_grid(), model_label = if_else(dataset == "iceberg", "X", model_label))
  expect_error(model_key(bad, what = "runs"), "runs: the runs disagree on model labels or ranks")
  expect_error(model_key(select(run_grid(), -model_rank), what = "runs"), "lacks column 'model_rank'")
})

test_that("dataset_factor orders datasets by rank and labels them", {
  f <- dataset_factor(run_grid())
  expect_identical(levels(f), c("MNIST", "Iceberg"))
})

test_that("save_figure writes pdf and png atomically and leaves no temporary file", {
  out <- withr::local_tempdir()
  plot <- ggplot(data.frame(x = 1:3, y = 1:3), aes(x, y)) + geom_point() + theme_pyode()
  written <- save_figure(plot, file.path(out, "sub", "figure"), width = 3, height = 2)
  expect_identical(basename(written), c("figure.pdf", "figure.png"))
  expect_true(all(file.size(written) > 1000))
  expect_identical(readBin(written[[1]], "raw", 4), charToRaw("%PDF"))
  expect_identical(readBin(written[[2]], "raw", 4), as.raw(c(0x89, 0x50, 0x4e, 0x47)))
  expect_identical(sort(list.files(file.path(out, "sub"), all.files = TRUE, no.. = TRUE)),
                   c("figure.pdf", "figure.png"))
})

test_that("save_figure leaves no file behind when drawing fails", {
  out <- withr::local_tempdir()
  broken <- ggplot(data.frame(x = 1:3), aes(x, no_such_column)) + geom_point()
  expect_error(save_figure(broken, file.path(out, "figure")))
  expect_length(list.files(out, all.files = TRUE, no.. = TRUE), 0)
})

test_that("read_json_file names the file that is missing or invalid", {
  out <- withr::local_tempdir()
  expect_error(read_json_file(file.path(out, "nope.json")), "missing file: .*nope.json")
  writeLines("{not json", file.path(out, "bad.json"))
  expect_error(read_json_file(file.path(out, "bad.json")), "bad.json is not valid JSON")
})
