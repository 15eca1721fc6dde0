# Fixtures: run folders and experiment folders as the workflow writes them.

write_run <- function(root, dataset, model, label = NULL, rank = NULL, continuous = NULL,
                      dataset_label = NULL, epochs = 2, nfe = 0, seed = NULL, accuracy = 0.85,
                      n_test = 200, solver = NULL, saved_mb = NULL) {
  dir <- file.path(root, dataset, model)
  if (!is.null(seed)) dir <- file.path(dir, paste0("seed-", seed))
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  # an ODE block's memory kept for the backward pass; none without one
  if (is.null(saved_mb)) saved_mb <- if (isTRUE(continuous)) nfe / 10 else NA_real_
  iterations <- data.frame(
    epoch = rep(seq_len(epochs), each = 3), iteration = seq_len(3 * epochs),
    images_seen = seq_len(3 * epochs) * 32, loss = seq(2, 0.5, length.out = 3 * epochs),
    loss_ewm = seq(2.1, 0.6, length.out = 3 * epochs), lr = 0.001, nfe_forward = nfe,
    nfe_backward = nfe, saved_mb = saved_mb,
    cuda_peak_mb = NA_real_, seconds = 0.01
  )
  epoch_rows <- data.frame(
    epoch = seq_len(epochs), train_loss = seq(1, 0.5, length.out = epochs),
    train_accuracy = seq(0.6, 0.9, length.out = epochs),
    test_loss = seq(1.1, 0.6, length.out = epochs),
    test_accuracy = seq(0.5, 0.85, length.out = epochs),
    nfe_forward_mean = tapply(iterations$nfe_forward, iterations$epoch, mean)[seq_len(epochs)],
    nfe_backward_mean = tapply(iterations$nfe_backward, iterations$epoch, mean)[seq_len(epochs)],
    saved_mb_mean = tapply(iterations$saved_mb, iterations$epoch, mean)[seq_len(epochs)],
    cuda_peak_mb_mean = NA_real_, epoch_seconds = 1.5, peak_memory_mb = 100
  )
  utils::write.csv(iterations, file.path(dir, "iterations.csv"), row.names = FALSE)
  utils::write.csv(epoch_rows, file.path(dir, "epochs.csv"), row.names = FALSE)
  summary <- list(
    dataset = dataset, model = model, params = 1000, total_seconds = 3,
    final_test_accuracy = accuracy, best_test_accuracy = accuracy, epochs = epochs,
    device = "cpu", profile = "test", model_label = label, model_rank = rank,
    continuous_depth = continuous, dataset_label = dataset_label, seed = seed, n_test = n_test,
    config = if (!is.null(solver)) list(solver = solver)
  )
  summary <- summary[!vapply(summary, is.null, logical(1))]
  jsonlite::write_json(summary, file.path(dir, "summary.json"), auto_unbox = TRUE)
  dir
}

# The project's four MNIST models and two iceberg ones, with the summary fields of the contract.
write_runs <- function(root = withr_tempdir()) {
  models <- list(
    list("mlp", "MLP", 0, FALSE, 0), list("resnet", "ResNet", 1, FALSE, 0),
    list("rknet", "RK-Net", 2, TRUE, 4), list("odenet", "ODE-Net", 3, TRUE, 8)
  )
  for (m in models) {
    write_run(root, "mnist", m[[1]], m[[2]], m[[3]], m[[4]], "MNIST", nfe = m[[5]])
  }
  for (m in models[c(1, 4)]) {
    write_run(root, "iceberg", m[[1]], m[[2]], m[[3]], m[[4]], "Iceberg", nfe = m[[5]])
  }
  root
}

withr_tempdir <- function(env = parent.frame()) {
  dir <- tempfile("pyode-test-")
  dir.create(dir)
  do.call(on.exit, list(substitute(unlink(dir, recursive = TRUE), list(dir = dir)), add = TRUE),
    envir = env
  )
  dir
}

write_csv_file <- function(data, dir, name) {
  dir.create(dir, recursive = TRUE, showWarnings = FALSE)
  utils::write.csv(data, file.path(dir, paste0(name, ".csv")), row.names = FALSE)
}

# Adds to an experiment folder's summary.json the declaration pyode writes there: every CSV of
# the folder with its columns (here: those the fixture wrote) and the figure size.
declare_outputs <- function(dir, figure = c(7, 4)) {
  path <- file.path(dir, "summary.json")
  summary <- if (file.exists(path)) jsonlite::read_json(path) else list()
  files <- sort(list.files(dir, pattern = "\\.csv$"))
  summary$outputs <- stats::setNames(lapply(files, function(file) {
    I(names(utils::read.csv(file.path(dir, file), nrows = 1, check.names = FALSE)))
  }), files)
  summary$figure <- list(width = figure[[1]], height = figure[[2]])
  jsonlite::write_json(summary, path, auto_unbox = TRUE, digits = NA)
  dir
}

# Minimal outputs of each experiment, enough for its figure, with their declaration.
write_experiments <- function(root) {
  spiral_dir <- file.path(root, "spiral")
  grid <- expand.grid(t = seq(0, 1, length.out = 5), system = c("linear", "two_regime"))
  observed <- data.frame(
    system = grid$system, model = NA, series = "observed", iteration = NA,
    z1 = cos(grid$t * 3), z2 = sin(grid$t * 3)
  )
  true <- transform(observed, series = "true")
  learned <- do.call(rbind, lapply(c(10, 20), function(it) {
    transform(observed, series = "learned", model = "mlp", iteration = it, z1 = z1 * 0.9)
  }))
  write_csv_file(rbind(observed, true, learned), spiral_dir, "trajectories")
  jsonlite::write_json(list(n_iters = 20), file.path(spiral_dir, "summary.json"))

  latent_dir <- file.path(root, "latent")
  t <- seq(0, 2, length.out = 6)
  examples <- do.call(rbind, lapply(c("truth", "observed", "latent_ode", "rnn"), function(s) {
    data.frame(spiral = 1, series = s, t = t, x = cos(t), y = sin(t))
  }))
  write_csv_file(examples, latent_dir, "examples")
  write_csv_file(data.frame(
    model = rep(c("latent_ode", "rnn"), each = 2),
    part = rep(c("interpolation", "extrapolation"), 2), mse = c(0.1, 0.2, 0.3, 0.4)
  ), latent_dir, "metrics")
  jsonlite::write_json(list(observed_until = 1), file.path(latent_dir, "summary.json"),
    auto_unbox = TRUE
  )

  tolerance_dir <- file.path(root, "tolerance")
  write_csv_file(data.frame(
    tolerance = 10^-(2:4), nfe_forward = c(14, 20, 32), nfe_backward = c(20, 26, 40),
    seconds_per_forward = c(0.01, 0.02, 0.03)
  ), tolerance_dir, "tolerance")
  write_csv_file(data.frame(
    epoch = 1:3, nfe_forward_mean = c(14, 16, 20), nfe_backward_mean = c(20, 22, 26)
  ), tolerance_dir, "nfe_epochs")
  jsonlite::write_json(list(n_images = 10), file.path(tolerance_dir, "summary.json"))

  memory_dir <- file.path(root, "memory")
  write_csv_file(data.frame(
    steps = rep(c(1, 8, 32), 2), peak_mb = c(10, 10, 10, 10, 30, 90),
    saved_mb = c(0.5, 0.5, 0.5, 2, 16, 64), mode = rep(c("adjoint", "backprop"), each = 3)
  ), memory_dir, "memory")
  jsonlite::write_json(list(slopes = list(adjoint = 0, backprop = 2600)),
    file.path(memory_dir, "summary.json"),
    auto_unbox = TRUE
  )

  euler_dir <- file.path(root, "euler")
  write_csv_file(data.frame(x = 0:4, euler = 2^(0:4)), euler_dir, "exponential")
  write_csv_file(data.frame(h = 2^-(0:3), abs_error = c(38, 25, 15, 8)), euler_dir, "convergence")
  write_csv_file(data.frame(
    x = rep(0:3, 2), y = c(0, 0.5, 1, 1.2, 5, 4, 3.5, 3.2), method = rep("euler", 8),
    y0 = rep(c(0, 5), each = 4)
  ), euler_dir, "relaxation")
  write_csv_file(
    data.frame(output_max_abs_diff = 0, gradient_max_abs_diff = 1e-9), euler_dir,
    "residual_check"
  )
  jsonlite::write_json(list(steps = 4), file.path(euler_dir, "summary.json"))

  # cnf: a 4 x 4 grid and 5 samples at two stages of the CNF and of a planar flow with 2 layers
  cnf_dir <- file.path(root, "cnf")
  grid <- expand.grid(x1 = c(-1.5, -0.5, 0.5, 1.5), x2 = c(-1.5, -0.5, 0.5, 1.5))
  stages <- data.frame(
    model = c("cnf", "cnf", "planar_2", "planar_2", "planar_2"), stage = c(0, 1, 0, 1, 2),
    t = c(0, 1, 0, 0.5, 1), layers = c(NA, NA, 0, 1, 2)
  )
  densities <- do.call(rbind, lapply(seq_len(nrow(stages)), function(i) {
    data.frame(stages[rep(i, nrow(grid)), ], grid,
      row.names = NULL, log_density = -0.5 * (grid$x1^2 + grid$x2^2) * (1 + stages$t[i])
    )
  }))
  samples <- do.call(rbind, lapply(seq_len(nrow(stages)), function(i) {
    data.frame(stages[rep(i, 5), ],
      sample = 0:4, row.names = NULL, x1 = seq(-1, 1, length.out = 5) * (1 + stages$t[i]),
      x2 = c(0.3, -0.2, 0.1, 0.4, -0.5)
    )
  }))
  write_csv_file(densities, cnf_dir, "densities")
  write_csv_file(samples, cnf_dir, "samples")
  write_csv_file(data.frame(
    model = c("cnf", "planar_2"), test_nll = c(2.1, 2.4), test_nll_se = c(0.02, 0.03)
  ), cnf_dir, "models")
  jsonlite::write_json(list(nll_cnf = 2.1), file.path(cnf_dir, "summary.json"), auto_unbox = TRUE)

  for (dir in list.dirs(root, recursive = FALSE)) {
    declare_outputs(dir, if (basename(dir) == "memory") c(7, 4.2) else c(7, 4))
  }
  root
}

# Whether a Python for pyode can be found: tests that call Python are skipped only without one (a
# Python that cannot import pyode makes them fail).
python_ready <- function() {
  tryCatch(nzchar(pyode_python()), error = function(e) FALSE)
}
