# Loaded by testthat before the tests: the scripts under test and small synthetic run tables.
source(test_path("..", "helpers.R"))
source(test_path("..", "figures.R"))

# `models_by_dataset`: named list dataset -> models (iceberg without rknet, as in the real DAG).
default_runs <- list(mnist = c("odenet", "mlp", "rknet", "resnet"), iceberg = c("resnet", "mlp", "odenet"))

# What pyode's registry writes into every summary.json, for the models and datasets above.
registry_models <- tibble(
  model = c("mlp", "resnet", "rknet", "odenet"), model_label = c("MLP", "ResNet", "RK-Net", "ODE-Net"),
  model_rank = 0:3, continuous_depth = c(FALSE, FALSE, TRUE, TRUE)
)
registry_datasets <- tibble(
  dataset = c("mnist", "iceberg"), dataset_label = c("MNIST", "Iceberg"), dataset_rank = 0:1
)

run_grid <- function(models_by_dataset = default_runs) {
  bind_rows(lapply(names(models_by_dataset), function(d) {
    tibble(dataset = d, model = models_by_dataset[[d]])
  })) |>
    left_join(registry_models, by = "model") |>
    left_join(registry_datasets, by = "dataset")
}

fake_iterations <- function(models_by_dataset = default_runs, n = 8) {
  run_grid(models_by_dataset) |>
    mutate(run = row_number()) |>
    tidyr::crossing(iteration = seq_len(n)) |>
    mutate(
      epoch = ceiling(iteration / (n / 2)), images_seen = 64 * iteration,
      loss = 2.3 * exp(-iteration / 4) + 0.01 * run, loss_ewm = loss + 0.05, lr = 1e-3,
      nfe_forward = if_else(model %in% c("odenet", "rknet"), 26, NA_real_),
      nfe_backward = if_else(model == "odenet", 32, NA_real_), seconds = 0.1
    ) |>
    select(-run)
}

fake_epochs <- function(models_by_dataset = default_runs, n = 3) {
  run_grid(models_by_dataset) |>
    tidyr::crossing(epoch = seq_len(n)) |>
    mutate(
      train_loss = 1 / epoch, train_accuracy = 0.9 - 0.1 / epoch, test_loss = 1.1 / epoch,
      test_accuracy = 0.85 - 0.1 / epoch,
      nfe_forward_mean = if_else(model %in% c("odenet", "rknet"), 20 + epoch, NA_real_),
      nfe_backward_mean = if_else(model == "odenet", 30 + epoch, NA_real_),
      epoch_seconds = 2, peak_memory_mb = 100 + epoch
    )
}

fake_summaries <- function(models_by_dataset = default_runs) {
  run_grid(models_by_dataset) |>
    mutate(
      params = 1e5 * row_number(), total_seconds = 5 * row_number(),
      final_test_accuracy = 0.8, best_test_accuracy = 0.82, epochs = 3,
      peak_memory_mb = 90 + row_number(), device = "cpu", profile = "test"
    )
}

# Write the three files of one run as `pyode train` does.
write_fake_run <- function(train_dir, dataset, model, iterations = NULL, epochs = NULL,
                           summary = NULL) {
  runs <- setNames(list(model), dataset)
  run_dir <- file.path(train_dir, dataset, model)
  dir.create(run_dir, recursive = TRUE, showWarnings = FALSE)
  run_columns <- c("dataset", "model", names(registry_models)[-1], names(registry_datasets)[-1])
  if (is.null(iterations)) iterations <- select(fake_iterations(runs), -any_of(run_columns))
  if (is.null(epochs)) epochs <- select(fake_epochs(runs), -any_of(run_columns))
  if (is.null(summary)) {
    facts <- as.list(run_grid(runs)[1, ])
    summary <- c(facts[setdiff(run_columns, c("dataset", "model"))], list(
      dataset = dataset, model = model, params = 12345, final_test_accuracy = 0.8,
      best_test_accuracy = 0.82, final_test_error = 0.2, best_test_error = 0.18, epochs = 3,
      total_seconds = 6.5, device = "cpu", seed = 0, profile = "test",
      versions = list(python = "3.11", torch = "2.14.1"), config = list(lr = 0.001)
    ))
  }
  write_csv(iterations, file.path(run_dir, "iterations.csv"), na = "")
  write_csv(epochs, file.path(run_dir, "epochs.csv"), na = "")
  jsonlite::write_json(summary, file.path(run_dir, "summary.json"), auto_unbox = TRUE)
  invisible(run_dir)
}

# The colour of each model in the built plot's first layer.
layer_colours <- function(plot, aesthetic = "colour") {
  built <- ggplot_build(plot)
  layer <- built$data[[1]]
  model_of_group <- levels(droplevels(plot$data$model))
  unique(tibble(model = model_of_group[layer$group], colour = layer[[aesthetic]]))
}
