expect_palette <- function(plot, aesthetic = "colour") {
  colours <- layer_colours(plot, aesthetic)
  key <- model_key(run_grid())
  expect_identical(unname(colours$colour), key$colour[match(colours$model, key$model)])
}

test_that("figure_losses draws raw and smoothed loss per dataset in model order", {
  plot <- figure_losses(fake_iterations())
  expect_s3_class(plot, "ggplot")
  built <- ggplot_build(plot)
  expect_length(built$data, 2)
  expect_equal(sort(built$data[[1]]$y), sort(plot$data$loss))
  expect_equal(sort(built$data[[2]]$y), sort(plot$data$loss_ewm))
  expect_lt(built$data[[1]]$alpha[[1]], 1)
  expect_identical(levels(plot$data$model), c("mlp", "resnet", "rknet", "odenet"))
  expect_identical(levels(plot$data$dataset), c("MNIST", "Iceberg"))
  expect_palette(plot)
  expect_identical(as.vector(built$plot$scales$get_scales("colour")$get_labels()),
                   c("MLP", "ResNet", "RK-Net", "ODE-Net"))
})

test_that("a dataset without rknet keeps the other models' colours", {
  plot <- figure_accuracy(fake_epochs(list(iceberg = c("odenet", "mlp"))))
  expect_palette(plot)
  built <- ggplot_build(plot)
  expect_setequal(unique(built$data[[1]]$colour), rank_palette[c(1, 4)])
  expect_equal(sort(unique(built$data[[1]]$y)), sort(unique(plot$data$test_accuracy)))
})

test_that("figure_nfe keeps only continuous-depth models, with forward and backward facets", {
  plot <- figure_nfe(fake_epochs())
  built <- ggplot_build(plot)
  expect_setequal(as.character(unique(plot$data$model)), c("odenet", "rknet"))
  expect_identical(levels(plot$data$pass), c("forward", "backward"))
  # rknet has no backward NFE (NA): it is dropped, not drawn as zero
  expect_false(any(plot$data$pass == "backward" & plot$data$model == "rknet"))
  expect_equal(nrow(built$layout$layout), 4)
  expect_palette(plot)
  expect_error(figure_nfe(fake_epochs(list(mnist = c("mlp", "resnet")))), "no continuous-depth \\(ODE\\) runs")
})

test_that("figure_cost shows wall time and peak memory bars", {
  plot <- figure_cost(fake_summaries())
  built <- ggplot_build(plot)
  expect_setequal(levels(plot$data$metric), c("wall time (s)", "peak memory (MB)"))
  expect_equal(sort(built$data[[1]]$y), sort(c(fake_summaries()$total_seconds,
                                               fake_summaries()$peak_memory_mb)))
  expect_palette(plot, "fill")
})

test_that("figure_params labels bars in millions", {
  summaries <- fake_summaries()
  plot <- figure_params(summaries)
  built <- ggplot_build(plot)
  expect_equal(sort(built$data[[1]]$y), sort(summaries$params))
  expect_setequal(built$data[[2]]$label, c("0.1M", "0.2M", "0.3M", "0.4M", "0.5M", "0.6M", "0.7M"))
  expect_identical(millions(1234567), "1.23M")
  expect_palette(plot, "fill")
})

test_that("figure functions name the missing column and disagreeing runs", {
  expect_error(figure_losses(select(fake_iterations(), -loss_ewm)),
               "iterations data lacks column 'loss_ewm'")
  expect_error(figure_params(select(fake_summaries(), -params, -model)),
               "summary data lacks columns 'model', 'params'")
  expect_error(figure_accuracy(mutate(fake_epochs(), model = "vgg")), "the runs disagree on model labels or ranks")
  expect_error(figure_accuracy(fake_epochs()[0, ]), "epochs data has no rows")
})

test_that("every training figure lays out, and save_training_figure writes both files", {
  out <- withr::local_tempdir()
  withr::local_pdf(NULL)  # ggplotGrob needs an open device; a null one writes no Rplots.pdf
  runs <- list(iterations = fake_iterations(), epochs = fake_epochs(), summary = fake_summaries())
  for (name in names(training_figures)) {
    spec <- training_figure_spec(name)
    expect_s3_class(ggplotGrob(spec$fun(runs[[spec$table]])), "gtable")
  }
  # drawing to files is slow (PNG at 200 dpi): one figure here, the others by the pytest runs
  written <- save_training_figure("cost", runs, file.path(out, "cost"))
  expect_identical(basename(written), c("cost.pdf", "cost.png"))
  expect_true(all(file.size(written) > 1000))
  expect_error(save_training_figure("loss", runs, file.path(out, "x")), "unknown figure 'loss'")
})

test_that("figure_losses thins long runs but keeps their first and last iteration", {
  iterations <- fake_iterations(list(mnist = c("mlp", "odenet")), n = 1000)
  plot <- figure_losses(iterations, max_points = 100)
  counts <- count(plot$data, model)$n
  expect_true(all(counts <= 101 & counts >= 100))
  last <- plot$data |> group_by(model) |> summarise(first = min(iteration), last = max(iteration))
  expect_equal(last$first, c(1, 1))
  expect_equal(last$last, c(1000, 1000))
})
