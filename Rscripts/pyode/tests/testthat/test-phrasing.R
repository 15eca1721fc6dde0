test_that("settings phrases tell fixed grids from tolerances", {
  expect_equal(
    solver_phrase(list(method = "dopri5", rtol = 1e-3, atol = 1e-4)),
    "dopri5 with relative tolerance 0.001 and absolute tolerance 1e-04"
  )
  expect_equal(solver_phrase(list(method = "rk4", n_steps = 1)), "rk4 with 1 fixed step")
  expect_equal(solver_phrase(list(method = "rk4", n_steps = 4)), "rk4 with 4 fixed steps")
  expect_equal(solver_phrase(list(method = "euler", step_size = 0.25)),
    "euler with fixed steps of 0.25")
  expect_equal(solver_brief(list(method = "rk4", n_steps = 4)), "rk4, 4 steps")
  expect_equal(solver_brief(list(method = "dopri5", rtol = 1e-3)), "dopri5, tol 0.001")
  expect_equal(solver_brief(list(method = "euler", step_size = 0.5)), "euler, steps of 0.5")
  expect_equal(schedule_phrase(list(name = "constant")), "constant")
  expect_equal(
    schedule_phrase(list(name = "step", milestones = list(30, 60), gamma = 0.1)),
    "step at 30/60 (x0.1)"
  )
})

settings <- list(
  epochs = 2, batch_size = 32, optimizer = "adam", lr = 0.001,
  lr_schedule = list(name = "constant"), solver = list(method = "rk4", n_steps = 4)
)

# A run whose summary also carries its settings.
with_settings <- function(dir, config = settings) {
  path <- file.path(dir, "summary.json")
  summary <- jsonlite::read_json(path, simplifyVector = TRUE)
  summary$config <- config
  jsonlite::write_json(summary, path, auto_unbox = TRUE)
}

test_that("settings_table gives every run's settings, a solver only for continuous depth", {
  root <- withr_tempdir()
  with_settings(write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST"))
  with_settings(write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST"))
  table <- settings_table(read_runs(root))
  expect_equal(table$Model, c("MLP", "ODE-Net"))
  expect_equal(table$Solver, c("--", "rk4, 4 steps"))
  expect_equal(table$Optimiser, c("adam, lr 0.001", "adam, lr 0.001"))
  expect_equal(table$Epochs, c("2", "2"))
})

test_that("headline and seeds sentences say what the run and its intervals are", {
  root <- withr_tempdir()
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", seed = 7, accuracy = 0.9)
  runs <- read_runs(root)
  ci <- wilson_interval(0.9, 200)
  expect_equal(
    headline_sentence(runs, "mnist", "odenet", published_values()),
    sprintf(paste(
      "The MNIST ODE-Net reached a test error of 10.00%% (95%% Wilson interval %s--%s%% from",
      "200 test images) with 1,000 parameters after 2 epochs; Chen et al. report 0.42%% after",
      "full training, which is outside our interval."
    ), format_percent(1 - ci$upper), format_percent(1 - ci$lower))
  )
  expect_equal(headline_sentence(runs, "mnist", "mlp", published_values()), "")
  expect_match(seeds_sentence(runs), "each model was trained once \\(seed 7\\)")
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", seed = 8, accuracy = 0.8)
  expect_match(seeds_sentence(read_runs(root)), "models were trained with 2 seeds \\(7, 8\\)")
  expect_match(
    headline_sentence(read_runs(root), "mnist", "odenet", published_values()),
    "from 200 test images, mean of 2 seeds\\)"
  )
})

test_that("ranking_sentences claim a best model only where the intervals separate it", {
  root <- withr_tempdir()
  write_run(root, "mnist", "mlp", "MLP", 0, FALSE, "MNIST", accuracy = 0.5, n_test = 1000)
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", accuracy = 0.9, n_test = 1000)
  write_run(root, "iceberg", "mlp", "MLP", 0, FALSE, "Iceberg", accuracy = 0.6, n_test = 20)
  write_run(root, "iceberg", "odenet", "ODE-Net", 3, TRUE, "Iceberg", accuracy = 0.65, n_test = 20)
  write_run(root, "other", "mlp", "MLP", 0, FALSE, "Other")
  sentences <- ranking_sentences(read_runs(root))
  expect_length(sentences, 2)
  # datasets without a rank follow their names
  expect_equal(sentences[[2]], paste(
    "On MNIST the ODE-Net is the most accurate model (90.00%): its 95% interval lies above",
    "those of all other models."
  ))
  expect_equal(sentences[[1]], paste(
    "On Iceberg the ODE-Net has the highest point estimate (65.00%), but its 95% interval",
    "overlaps those of the MLP, so this build does not rank the two."
  ))
})

test_that("ablation_sentences say what the block adds only where the intervals separate", {
  root <- withr_tempdir()
  write_run(root, "mnist", "noblock", "No block", 4, FALSE, "MNIST", accuracy = 0.5)
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", accuracy = 0.9)
  write_run(root, "iceberg", "odenet", "ODE-Net", 3, TRUE, "Iceberg", accuracy = 0.9)
  sentences <- ablation_sentences(read_runs(root), "noblock", "odenet")
  expect_length(sentences, 1)
  expect_match(sentences, "^The ablation \\*No block\\* on MNIST --- the ODE-Net's")
  expect_match(sentences, "the ODE block adds about 40.0 percentage points")
  write_run(root, "mnist", "noblock", "No block", 4, FALSE, "MNIST", accuracy = 0.88)
  expect_match(
    ablation_sentences(read_runs(root), "noblock", "odenet"), "the two intervals overlap"
  )
  write_run(root, "mnist", "noblock", "No block", 4, FALSE, "MNIST", accuracy = 0.99)
  expect_match(
    ablation_sentences(read_runs(root), "noblock", "odenet"),
    "the ODE-Net's interval lies below it"
  )
})

test_that("nfe_caption names the fixed-grid models", {
  root <- withr_tempdir()
  write_run(root, "mnist", "rknet", "RK-Net", 2, TRUE, "MNIST", nfe = 4,
    solver = list(method = "rk4", n_steps = 1))
  caption <- nfe_caption(read_runs(root))
  expect_match(caption, "no model of this build uses an adaptive solver. The RK-Net uses a fixed")
  expect_match(caption, "\\(stated in the figure\\)\\.$")
  write_run(root, "mnist", "odenet", "ODE-Net", 3, TRUE, "MNIST", nfe = 20,
    solver = list(method = "dopri5", rtol = 1e-3))
  caption <- nfe_caption(read_runs(root))
  expect_match(caption, "of the models with an adaptive solver, whose NFE varies with training")
  expect_match(caption, "\\(stated in the figure's note\\)\\.$")
})

test_that("not_run_sentence names the missing summary", {
  expect_equal(
    not_run_sentence("cnf"),
    "The *cnf* experiment is not part of this run (no `experiments/cnf/summary.json`)."
  )
})

test_that("flow_sentences claim differences beyond twice the combined standard error", {
  flows <- tibble::tibble(
    model = c("cnf", "planar_8", "planar_2"), test_nll = c(2.0, 2.05, 3.0),
    test_nll_se = c(0.1, 0.1, 0.1)
  )
  expect_equal(flow_sentences(flows, nll_base = 4), paste(
    "The CNF has a lower test NLL than the planar flow with K = 2 (by 1.0 nats).",
    "The CNF and the planar flow with K = 8 cannot be told apart at this test size.",
    "Every flow lies below the base's NLL by more than twice its standard error."
  ))
  expect_equal(flow_sentences(flows, nll_base = 2.5), paste(
    "The CNF has a lower test NLL than the planar flow with K = 2 (by 1.0 nats).",
    "The CNF and the planar flow with K = 8 cannot be told apart at this test size.",
    "Below the base's NLL by more than twice the standard error: CNF, planar K = 8; not so:",
    "planar K = 2."
  ))
  expect_match(flow_sentences(flows, nll_base = 1), "No flow lies below the base's NLL")
  expect_error(flow_sentences(flows[, 1:2], 1), "lacks column 'test_nll_se'")
})
