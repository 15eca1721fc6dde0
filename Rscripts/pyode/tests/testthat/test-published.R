test_that("published_values reads the package's reference values as published", {
  published <- published_values()
  expect_equal(names(published), c("source", "dataset", "model", "quantity", "epoch", "value"))
  expect_true(all(published$quantity %in% c("test error (%)", "accuracy (%)", "parameters (M)")))
  expect_equal(published_value(published, "mnist", "odenet", "test error (%)"), "0.42")
  expect_equal(published_value(published, "mnist", "mlp", "test error (%)"), "1.60")
  expect_true(is.na(published_value(published, "mnist", "noblock", "test error (%)")))
  expect_equal(published$epoch[!is.na(published$epoch)], 5L)
})

test_that("published_values names the file and the column it cannot use", {
  path <- tempfile(fileext = ".csv")
  on.exit(unlink(path))
  writeLines(c("source,dataset,model,quantity,epoch,value", "a,mnist,mlp,speed,,1"), path)
  expect_error(published_values(path), "unknown quantity 'speed'")
  writeLines(c("source,dataset,model,quantity,epoch,value", "a,mnist,mlp,accuracy (%),,x"), path)
  expect_error(published_values(path), "column 'value' must hold numbers")
  writeLines(c("source,dataset,model,quantity,value", "a,mnist,mlp,accuracy (%),1"), path)
  expect_error(published_values(path), "lacks column 'epoch'")
  expect_error(published_values(file.path(path, "none.csv")), "published values not found")
})

test_that("compare_published puts our number and its interval beside each published one", {
  root <- write_runs(withr_tempdir())
  write_run(root, "mnist", "noblock", "No block (stem + head)", 4, FALSE, "MNIST", accuracy = 0.5)
  runs <- select_runs(
    read_runs(root), configured_runs(list(mnist = c("mlp", "odenet", "noblock")))
  )
  published <- published_values()
  comparison <- compare_published(published, runs, "tiny")
  expect_equal(nrow(comparison), nrow(published) + 1)
  expect_equal(names(comparison), c(
    "Source", "Model", "Quantity", "Published", "Ours [95% CI]", "Within CI", "Our run"
  ))
  row <- function(model, quantity) {
    comparison[comparison$Model == model & comparison$Quantity == quantity, ][1, ]
  }
  ci <- wilson_interval(0.85, 200)
  error <- row("MNIST ODE-Net", "test error (%)")
  expect_equal(error$`Ours [95% CI]`, format_accuracy(0.15, 1 - ci$upper, 1 - ci$lower))
  expect_equal(error$`Within CI`, "no")
  expect_equal(error$`Our run`, "tiny, --")
  expect_equal(row("MNIST ODE-Net", "parameters (M)")$`Ours [95% CI]`, "0.001")
  # a run not made keeps its name and says so
  expect_equal(row("MNIST resnet", "test error (%)")$`Ours [95% CI]`, "not run")
  expect_equal(row("MNIST resnet", "test error (%)")$`Our run`, "--")
  # accuracy at epoch 5 from a two-epoch run: read at its last epoch, which the cell names
  early <- row("MNIST ODE-Net", "acc. at epoch 5 (%)")
  expect_match(early$`Ours [95% CI]`, "^85.00 \\[.*\\] \\(epoch 2\\)$")
  ablation <- row("MNIST No block (stem + head)", "test error (%)")
  expect_equal(c(ablation$Source, ablation$Published, ablation$`Within CI`), c(
    "--", "not reported", "--"
  ))
  expect_equal(
    within_sentence(comparison),
    paste(
      "Of the 4 published accuracies and errors we could compare, 0 lie within our 95%",
      "interval and 4 outside it."
    )
  )
})

test_that("a published value inside our interval counts as within it", {
  root <- withr_tempdir()
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", accuracy = 0.996, n_test = 500)
  comparison <- compare_published(published_values(), read_runs(root), "paper")
  error <- comparison[comparison$Model == "MNIST ODE-Net" &
    comparison$Quantity == "test error (%)", ]
  expect_equal(error$`Within CI`, "yes")
  expect_match(within_sentence(comparison), "compare, 2 lie within our 95% interval and 1 outside")
})
