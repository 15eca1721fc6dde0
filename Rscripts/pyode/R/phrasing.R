# The paper's sentences that depend on the numbers: each claims only what the intervals support.

plural <- function(n, one = "", more = "s") if (n == 1) one else more

#' Settings in words
#'
#' `solver_phrase()` describes a run's solver settings in a sentence, `solver_brief()` in a table
#' cell, `schedule_phrase()` the learning-rate schedule. A fixed-grid method takes steps and has
#' no tolerance; an adaptive one meets tolerances.
#'
#' @param solver The `solver` settings of a run (`config$solver` of its `summary.json`).
#' @param schedule The `lr_schedule` settings of a run.
#' @return One text.
#' @examples
#' solver_phrase(list(method = "dopri5", rtol = 1e-3, atol = 1e-4))
#' solver_brief(list(method = "rk4", n_steps = 4))
#' schedule_phrase(list(name = "step", milestones = list(30, 60), gamma = 0.1))
#' @name settings_phrases
NULL

#' @rdname settings_phrases
#' @export
solver_phrase <- function(solver) {
  if (!is.null(solver$n_steps)) {
    return(sprintf(
      "%s with %s fixed step%s", solver$method, solver$n_steps, plural(solver$n_steps)
    ))
  }
  if (!is.null(solver$step_size)) {
    return(sprintf("%s with fixed steps of %s", solver$method, format(solver$step_size)))
  }
  sprintf(
    "%s with relative tolerance %s and absolute tolerance %s", solver$method,
    format(solver$rtol), format(solver$atol)
  )
}

#' @rdname settings_phrases
#' @export
solver_brief <- function(solver) {
  if (!is.null(solver$n_steps)) {
    return(sprintf("%s, %s steps", solver$method, solver$n_steps))
  }
  if (!is.null(solver$step_size)) {
    return(sprintf("%s, steps of %s", solver$method, format(solver$step_size)))
  }
  sprintf("%s, tol %s", solver$method, format(solver$rtol))
}

#' @rdname settings_phrases
#' @export
schedule_phrase <- function(schedule) {
  if (!identical(schedule$name, "step")) {
    return(schedule$name)
  }
  sprintf(
    "step at %s (x%s)", paste(unlist(schedule$milestones), collapse = "/"),
    format(schedule$gamma)
  )
}

#' The training settings of every run
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return A data frame, one row per dataset and model in the order of [run_results()]:
#'   `Data`, `Model`, `Epochs`, `Batch`, `Optimiser`, `Schedule` and `Solver` (`"--"` for models
#'   without an ODE block), from the settings of its first run.
#' @export
settings_table <- function(runs) {
  results <- run_results(runs)
  rows <- lapply(seq_len(nrow(results)), function(i) {
    s <- run_summary(runs, results$dataset[i], results$model[i])$config
    data.frame(
      Data = results$dataset_label[i], Model = results$model_label[i],
      Epochs = format(s$epochs), Batch = format(s$batch_size),
      Optimiser = sprintf("%s, lr %s", s$optimizer, format(s$lr)),
      Schedule = schedule_phrase(s$lr_schedule),
      Solver = if (isTRUE(results$continuous_depth[i])) solver_brief(s$solver) else "--",
      check.names = FALSE
    )
  })
  do.call(rbind, rows)
}

#' What the intervals of the runs reflect
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return One sentence: the intervals come from the test-set sizes, and the runs were trained
#'   once (naming the seed) or with several seeds (summarised as mean and sd).
#' @export
seeds_sentence <- function(runs) {
  counts <- unique(run_results(runs)$seeds)
  seeds <- run_seeds(runs)
  sprintf(
    paste(
      "Every accuracy in this document carries a 95%% Wilson interval computed from the size of",
      "the test set it was measured on; %s."
    ),
    if (all(counts == 1)) {
      sprintf(paste(
        "each model was trained once (seed %s), so the intervals reflect the finite test set and",
        "not the variation between training runs"
      ), paste(seeds, collapse = "/"))
    } else {
      sprintf(
        paste(
          "models were trained with %s seeds (%s) and their tables show mean and standard",
          "deviation across seeds"
        ),
        paste(counts, collapse = "/"), paste(seeds, collapse = ", ")
      )
    }
  )
}

#' The headline result of one run
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @param dataset,model The run.
#' @param published The result of [published_values()]: the paper's test error of the run.
#' @return One sentence with the run's test error, its 95 % interval, parameters and epochs, and
#'   whether the paper's test error lies within the interval; `""` when `runs` lacks the run.
#' @export
headline_sentence <- function(runs, dataset, model, published) {
  results <- run_results(runs)
  r <- results[results$dataset == dataset & results$model == model, ]
  if (nrow(r) == 0) {
    return("")
  }
  epochs <- run_summary(runs, dataset, model)$epochs
  paper <- published_value(published, dataset, model, "test error (%)")
  comparison <- if (is.na(paper)) {
    "Chen et al. do not report it"
  } else {
    inside <- consistent_with(1 - as.numeric(paper) / 100, r$lower, r$upper)
    sprintf(
      "Chen et al. report %s%% after full training, which is %s our interval", paper,
      if (identical(inside, "yes")) "within" else "outside"
    )
  }
  sprintf(
    paste(
      "The %s %s reached a test error of %s%% (95%% Wilson interval %s--%s%% from %s test",
      "images%s) with %s parameters after %s epoch%s; %s."
    ),
    r$dataset_label, r$model_label, format_percent(r$error), format_percent(1 - r$upper),
    format_percent(1 - r$lower), format_count(r$n_test),
    if (r$seeds > 1) sprintf(", mean of %d seeds", r$seeds) else "", format_count(r$params),
    epochs, plural(epochs), comparison
  )
}

#' Which model is best on each dataset
#'
#' A model is called the most accurate only where its 95 % interval lies above those of all
#' other models of its dataset.
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return One sentence per dataset with two or more models.
#' @export
ranking_sentences <- function(runs) {
  results <- run_results(runs)
  sentences <- lapply(unique(results$dataset), function(dataset) {
    rows <- results[results$dataset == dataset & !is.na(results$accuracy), ]
    if (nrow(rows) < 2) {
      return(NULL)
    }
    best <- rows[which.max(rows$accuracy), ]
    others <- rows[rows$model != best$model, ]
    overlapping <- others$model_label[others$upper >= best$lower]
    if (anyNA(c(best$lower, others$upper))) {
      sprintf(
        paste(
          "On %s the %s has the highest accuracy (%s%%); without test-set sizes the intervals",
          "are unknown, so no ranking is claimed."
        ),
        best$dataset_label, best$model_label, format_percent(best$accuracy)
      )
    } else if (length(overlapping) == 0) {
      sprintf(
        paste(
          "On %s the %s is the most accurate model (%s%%): its 95%% interval lies above those",
          "of all other models."
        ),
        best$dataset_label, best$model_label, format_percent(best$accuracy)
      )
    } else {
      sprintf(
        paste(
          "On %s the %s has the highest point estimate (%s%%), but its 95%% interval overlaps",
          "those of the %s, so this build does not rank %s."
        ),
        best$dataset_label, best$model_label, format_percent(best$accuracy),
        paste(overlapping, collapse = ", "), plural(length(overlapping), "the two", "these models")
      )
    }
  })
  unlist(sentences)
}

#' What a block adds to a model without it
#'
#' Compares an ablation (`ablation`, e.g. the stem and head alone) with the full model on every
#' dataset that has both; a difference is claimed only where their 95 % intervals do not
#' overlap.
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @param ablation,model The ablation and the full model with the ODE block.
#' @return One sentence per dataset with both runs.
#' @export
ablation_sentences <- function(runs, ablation, model) {
  results <- run_results(runs)
  datasets <- intersect(
    results$dataset[results$model == ablation], results$dataset[results$model == model]
  )
  interval <- function(r) {
    sprintf(
      "%s%% [%s, %s]", format_percent(r$accuracy), format_percent(r$lower),
      format_percent(r$upper)
    )
  }
  vapply(datasets, function(dataset) {
    stem <- results[results$dataset == dataset & results$model == ablation, ]
    full <- results[results$dataset == dataset & results$model == model, ]
    verdict <- if (anyNA(c(stem$lower, stem$upper, full$lower, full$upper))) {
      "without test-set sizes the intervals are unknown, so no difference is claimed"
    } else if (full$lower > stem$upper) {
      sprintf(
        paste(
          "the %s's interval lies above it, so the ODE block adds about %s percentage points",
          "to what the stem and head reach"
        ),
        full$model_label, format_percent(full$accuracy - stem$accuracy, 1)
      )
    } else if (full$upper < stem$lower) {
      sprintf(
        "the %s's interval lies below it: in this build the ODE block lowers the accuracy",
        full$model_label
      )
    } else {
      paste(
        "the two intervals overlap, so this build cannot tell what the ODE block adds to the",
        "stem and head"
      )
    }
    sprintf(
      paste(
        "The ablation *%s* on %s --- the %s's down-sampling stem and classification head with",
        "nothing between them, %s parameters --- reaches an accuracy of %s against the %s's %s",
        "(95%% Wilson intervals): %s. The %s's accuracy is to be read against this baseline,",
        "not against chance."
      ),
      stem$model_label, stem$dataset_label, full$model_label, format_count(stem$params),
      interval(stem), full$model_label, interval(full), verdict, full$model_label
    )
  }, character(1), USE.NAMES = FALSE)
}

#' The caption of the NFE figure
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return The caption: which models use an adaptive solver and which a fixed grid.
#' @export
nfe_caption <- function(runs) {
  results <- run_results(runs)
  fixed <- unique(results$model_label[!is.na(results$solver) & results$solver == "fixed grid"])
  adaptive <- results$model_label[!is.na(results$solver) & results$solver == "adaptive"]
  paste0(
    "Mean number of function evaluations (NFE) per forward and backward pass, per epoch, ",
    if (length(adaptive) > 0) {
      "of the models with an adaptive solver, whose NFE varies with training. "
    } else {
      "of the continuous-depth models; no model of this build uses an adaptive solver. "
    },
    if (length(fixed) > 0) {
      sprintf(
        paste(
          "The %s use%s a fixed grid, which costs a fixed number of evaluations in every epoch",
          "(stated in the figure%s)."
        ),
        paste(fixed, collapse = ", "), plural(length(fixed), "s", ""),
        if (length(adaptive) > 0) "'s note" else ""
      )
    } else {
      ""
    }
  )
}

#' Which solver each continuous-depth run used
#'
#' Read from the runs' own settings (`config$solver` of each `summary.json`), so the text names
#' the method, its tolerances or its grid, and the gradient, for exactly what was trained: an
#' adaptive method is said to choose its steps, a fixed grid to take the same steps every pass.
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return One sentence per continuous-depth model and data set (none without such runs).
#' @export
solver_sentences <- function(runs) {
  check_runs(runs, "solver_sentences")
  keys <- unique(runs$summary[runs$summary$continuous_depth %in% TRUE, c("dataset", "model")])
  vapply(seq_len(nrow(keys)), function(i) {
    summary <- run_summary(runs, keys$dataset[[i]], keys$model[[i]])
    solver <- summary$config$solver
    sprintf(
      "The %s on %s solves its block with %s (%s) and takes its gradients %s.",
      summary$model_label, summary$dataset_label, solver_phrase(solver),
      if (identical(solver_kind(summary), "adaptive")) {
        "adaptive: the solver chooses its steps, so its evaluations may change with training"
      } else {
        "a fixed grid: the same evaluations in every pass"
      },
      if (isTRUE(solver$adjoint)) {
        "from the adjoint method, whose memory does not grow with the solver's steps"
      } else {
        "by back-propagating through the solver's operations, whose memory grows with its steps"
      }
    )
  }, character(1))
}

#' How the adaptive runs' evaluations changed over training
#'
#' From each adaptive run's `iterations.csv` (its first seed): the forward evaluations per
#' mini-batch over the first and the last tenth of its iterations, their range, and the backward
#' evaluations against the forward ones.
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return One sentence per adaptive run (none without such runs).
#' @export
nfe_training_sentences <- function(runs) {
  check_runs(runs, "nfe_training_sentences")
  data <- runs$iterations[
    runs$iterations$solver %in% "adaptive" & runs$iterations$continuous_depth %in% TRUE,
  ]
  if ("seed" %in% names(data)) data <- data[data$seed %in% min(data$seed), ]
  keys <- unique(data[, c("dataset", "model")])
  vapply(seq_len(nrow(keys)), function(i) {
    run <- data[data$dataset == keys$dataset[[i]] & data$model == keys$model[[i]], ]
    run <- run[order(run$iteration), ]
    tenth <- max(1, floor(nrow(run) / 10))
    span <- if (tenth == 1) "iteration" else sprintf("%d iterations", tenth)
    summary <- run_summary(runs, keys$dataset[[i]], keys$model[[i]])
    backward <- mean(run$nfe_backward)
    sprintf(
      paste(
        "The %s on %s took %s forward evaluations per mini-batch on average over its first %s",
        "and %s over its last %s (range %s to %s over %s iterations); %s."
      ),
      summary$model_label, summary$dataset_label,
      format_significant(mean(utils::head(run$nfe_forward, tenth))), span,
      format_significant(mean(utils::tail(run$nfe_forward, tenth))), span,
      min(run$nfe_forward), max(run$nfe_forward), nrow(run),
      if (isTRUE(summary$config$solver$adjoint)) {
        sprintf(
          paste(
            "its backward pass, the adjoint solve, took %s evaluations on average, %s times the",
            "forward count"
          ),
          format_significant(backward), format_significant(backward / mean(run$nfe_forward))
        )
      } else {
        sprintf(
          "its backward pass back-propagated through the %s evaluations it stored on average",
          format_significant(backward)
        )
      }
    )
  }, character(1))
}

#' Memory against evaluations, in words
#'
#' From each continuous-depth run's `iterations.csv` (its first seed; full mini-batches only): the
#' MB its ODE blocks kept for the backward pass at the fewest and at the most forward evaluations
#' the solver chose, and for a run that back-propagates through the solver the MB each further
#' evaluation adds.
#'
#' @param runs The result of [read_runs()] or [select_runs()].
#' @return One sentence per continuous-depth run (none without such runs).
#' @export
memory_sentences <- function(runs) {
  check_runs(runs, "memory_sentences")
  data <- runs$iterations
  if ("seed" %in% names(data)) data <- data[data$seed %in% min(data$seed), ]
  if (!any(data$continuous_depth %in% TRUE & !is.na(data$saved_mb))) {
    return(character())
  }
  points <- memory_points(data)$data
  keys <- unique(points[, c("dataset_name", "model")])
  vapply(seq_len(nrow(keys)), function(i) {
    run <- points[points$dataset_name == keys$dataset_name[[i]] & points$model == keys$model[[i]], ]
    run <- run[order(run$nfe_forward), ]
    first <- run[1, ]
    last <- run[nrow(run), ]
    summary <- run_summary(runs, keys$dataset_name[[i]], as.character(keys$model[[i]]))
    adjoint <- isTRUE(summary$config$solver$adjoint)
    who <- sprintf(
      "The %s on %s (%s)", summary$model_label, summary$dataset_label,
      if (adjoint) "adjoint" else "back-propagated through the solver"
    )
    if (nrow(run) == 1) {
      each <- if (adjoint) {
        ""
      } else {
        sprintf(" (%s MB per evaluation)", format_significant(first$saved_mb / first$nfe_forward))
      }
      return(sprintf(
        "%s kept %s MB for the backward pass at its %s forward evaluations per mini-batch%s.",
        who, format_significant(first$saved_mb), format_count(first$nfe_forward), each
      ))
    }
    per_evaluation <- (last$saved_mb - first$saved_mb) / (last$nfe_forward - first$nfe_forward)
    growth <- if (adjoint) {
      ""
    } else {
      sprintf(", %s MB per further evaluation", format_significant(per_evaluation))
    }
    sprintf(
      paste(
        "%s kept %s MB for the backward pass at %s forward evaluations per mini-batch",
        "and %s MB at %s%s."
      ),
      who, format_significant(first$saved_mb), format_count(first$nfe_forward),
      format_significant(last$saved_mb), format_count(last$nfe_forward), growth
    )
  }, character(1))
}

#' A sentence for an experiment that did not run
#'
#' @param name The experiment.
#' @return The sentence, naming the file the experiment would have written.
#' @export
not_run_sentence <- function(name) {
  sprintf(
    "The *%s* experiment is not part of this run (no `%s`).", name,
    file.path("experiments", name, "summary.json")
  )
}

#' Which flows the test likelihood separates
#'
#' Compares the CNF with each planar flow, and every flow with the base density; a difference is
#' claimed only where it exceeds twice the combined standard error of the two means.
#'
#' @param flows The cnf experiment's `models.csv`: `model` (`"cnf"`, `"planar_K"`), `test_nll`
#'   and `test_nll_se`.
#' @param nll_base The test NLL of the standard normal base.
#' @return The sentences.
#' @export
flow_sentences <- function(flows, nll_base) {
  check_names(names(flows), c("model", "test_nll", "test_nll_se"), "flow_sentences: 'flows'")
  depth <- function(model) sub("^planar_", "", model)
  label <- function(row) {
    if (row$model == "cnf") "the CNF" else paste("the planar flow with K =", depth(row$model))
  }
  cnf <- flows[flows$model == "cnf", ]
  planar <- flows[grepl("^planar_", flows$model), ]
  planar <- planar[order(as.numeric(depth(planar$model))), ]
  claims <- character(0)
  ties <- character(0)
  for (i in seq_len(nrow(planar))) {
    other <- planar[i, ]
    gap <- abs(cnf$test_nll - other$test_nll)
    if (gap > 2 * sqrt(cnf$test_nll_se^2 + other$test_nll_se^2)) {
      lower <- cnf$test_nll < other$test_nll
      claims <- c(claims, sprintf(
        "%s has a lower test NLL than %s (by %s nats)", label(if (lower) cnf else other),
        label(if (lower) other else cnf), format_significant(gap, 2)
      ))
    } else {
      ties <- c(ties, paste("K =", depth(other$model)))
    }
  }
  names <- ifelse(flows$model == "cnf", "CNF", paste("planar K =", depth(flows$model)))
  below <- flows$test_nll + 2 * flows$test_nll_se < nll_base
  base <- if (all(below)) {
    "Every flow lies below the base's NLL by more than twice its standard error."
  } else if (!any(below)) {
    "No flow lies below the base's NLL by more than twice its standard error."
  } else {
    sprintf(
      "Below the base's NLL by more than twice the standard error: %s; not so: %s.",
      paste(names[below], collapse = ", "), paste(names[!below], collapse = ", ")
    )
  }
  paste(c(
    if (length(claims) > 0) {
      paste0(sub("^(.)", "\\U\\1", paste(claims, collapse = "; "), perl = TRUE), ".")
    },
    if (length(ties) > 0) {
      sprintf(
        "The CNF and the planar flow%s with %s cannot be told apart at this test size.",
        plural(length(ties)), paste(ties, collapse = " and ")
      )
    },
    base
  ), collapse = " ")
}
