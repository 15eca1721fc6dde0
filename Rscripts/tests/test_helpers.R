test_that("one model order, palette and label set covers every model", {
  expect_identical(model_levels, c("mlp", "resnet", "rknet", "odenet"))
  expect_setequal(names(model_palette), model_levels)
  expect_setequal(names(model_labels), model_levels)
  expect_true(all(grepl("^#[0-9A-Fa-f]{6}$", model_palette)))
  expect_equal(anyDuplicated(unname(model_palette)), 0)
})

test_that("model_factor orders models and rejects unknown names", {
  f <- model_factor(c("odenet", "mlp", "rknet"))
  expect_identical(levels(f), model_levels)
  expect_identical(as.integer(f), c(4L, 1L, 3L))
  expect_error(model_factor(c("mlp", "vgg"), what = "runs.csv"), "runs.csv: unknown model\\(s\\) 'vgg'")
})

test_that("dataset_factor puts mnist before iceberg and labels them", {
  f <- dataset_factor(c("iceberg", "mnist", "cifar"))
  expect_identical(levels(f), c("MNIST", "Iceberg", "cifar"))
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
