"""The experiments' entries, in the paper's order: each one's CSV files and figure, resources,
settings (the config's `experiments.NAME` block), tiny sizes and cross-setting checks. Its code is
the module `pyode.experiments.NAME` (`run`)."""

from __future__ import annotations

from typing import Any

from pyode.registry.choices import ADAPTIVE_METHODS, DEVICES, METHODS
from pyode.registry.entries import Experiment
from pyode.setting_tables import (
    Setting,
    at_least,
    choice,
    distinct_positive,
    fraction,
    increasing_steps,
    non_empty,
    non_empty_positive,
    non_negative,
    positive,
)
from pyode.solver import defaults as solver_defaults

# Settings several experiments share, so that each is spelled once.
SEED = Setting(0, "seeds the data, initialisation and sampling (default: the top-level seed)",
               non_negative)
DEVICE = Setting("auto", "auto, cpu or cuda (default: the top-level device)", choice(*DEVICES))


def solver_settings(rtol: float, atol: float) -> dict[str, Setting]:
    """The ODE solver's method, tolerances and gradient mode, with these default tolerances."""
    return {
        "method": Setting(solver_defaults.METHOD, "solver method (a pyode.solver tableau)",
                          choice(*METHODS)),
        "rtol": Setting(rtol, "relative tolerance of adaptive methods", positive),
        "atol": Setting(atol, "absolute tolerance of adaptive methods", positive),
        "adjoint": Setting(True, "gradients by the adjoint method (true) or through the solver"),
    }


def _spiral_check(s: dict[str, Any]) -> tuple[str, str] | None:
    if s["window_min"] > s["window_max"]:
        return "window_min", "exceeds window_max"
    return None


SPIRAL = Experiment(
    "spiral",
    {
        "trajectories.csv": ("system", "series", "model", "iteration", "t", "z1", "z2"),
        "training.csv": ("system", "model", "iteration", "loss", "window", "nfe_forward",
                         "nfe_backward", "seconds"),
        "fits.csv": ("system", "model", "iterations", "trajectory_mse", "observed_mse",
                     "final_loss", "seconds", "a_max_abs_error"),
        "matrices.csv": ("matrix", "row", "col", "value"),
    },
    figure=(9, 7), mem_mb=2000, runtime=60,
    settings={
        "seed": SEED,
        "n_points": Setting(200, "observation times of the spiral", positive),
        "noise_sd": Setting(0.01, "standard deviation of the observation noise", non_negative),
        "n_iters": Setting(400, "training iterations of the linear and the MLP field", positive),
        "two_regime_iters": Setting(400, "iterations on the two-regime spiral (0 skips it)",
                                    non_negative),
        "batch_size": Setting(16, "windows per iteration", positive),
        "window_min": Setting(1.0, "shortest training window (time units)", positive),
        "window_max": Setting(5.0, "longest training window (time units)", positive),
        "hidden": Setting(16, "hidden units of the MLP field", positive),
        "lr_linear": Setting(0.05, "Adam learning rate of the linear field", positive),
        "lr_mlp": Setting(0.01, "Adam learning rate of the MLP field", positive),
        "snapshots": Setting(4, "learned trajectories drawn during training", positive),
        **solver_settings(rtol=1e-5, atol=1e-6),
    },
    # The smallest sizes that still exercise every step: the test profile's (`scale: tiny`).
    tiny={"n_iters": 60, "two_regime_iters": 10, "batch_size": 8, "snapshots": 2,
          "window_max": 2.0, "rtol": 0.0001, "atol": 1e-05},
    check=_spiral_check,
)


def _latent_check(s: dict[str, Any]) -> tuple[str, str] | None:
    n_observed_grid = int(s["n_grid"] * s["observed_fraction"])
    if s["n_obs"] >= n_observed_grid:
        return "n_obs", (f"must be below the {n_observed_grid} grid points of the observed "
                         "interval (n_grid * observed_fraction), so that some are left for "
                         "interpolation")
    return None


LATENT = Experiment(
    "latent",
    {
        "training.csv": ("model", "iteration", "neg_elbo", "nfe_forward", "nfe_backward",
                         "seconds"),
        "metrics.csv": ("model", "part", "mse", "mse_sd", "n_spirals", "train_seconds",
                        "final_neg_elbo"),
        "examples.csv": ("series", "spiral", "t", "x", "y", "direction"),
    },
    figure=(8, 6), mem_mb=2000, runtime=120,
    settings={
        "seed": SEED,
        "n_train": Setting(256, "training spirals", positive),
        "n_test": Setting(64, "held-out spirals", positive),
        "n_grid": Setting(100, "points of the regular time grid on [0, t_max]", positive),
        "t_max": Setting(10.0, "end of the time grid", positive),
        "observed_fraction": Setting(0.5, "share of [0, t_max] with observations", fraction),
        "n_obs": Setting(25, "observations per spiral (random times in the observed interval)",
                         positive),
        "noise_sd": Setting(0.05, "standard deviation of the observation noise", non_negative),
        "latent_dim": Setting(4, "dimension of the latent state z0", positive),
        "hidden": Setting(25, "hidden units of encoder, decoder and ODE field", positive),
        "n_iters": Setting(300, "training iterations of each model", positive),
        "batch_size": Setting(32, "spirals per iteration", positive),
        "lr": Setting(0.01, "Adam learning rate", positive),
        "likelihood_sd": Setting(0.1, "standard deviation of the Gaussian likelihood", positive),
        "n_examples": Setting(4, "test spirals drawn with both models' predictions", positive),
        **solver_settings(rtol=1e-3, atol=1e-4),
    },
    tiny={"n_train": 16, "n_test": 8, "n_grid": 30, "n_obs": 8, "n_iters": 3, "batch_size": 8,
          "hidden": 8, "latent_dim": 2, "n_examples": 2},
    check=_latent_check,
)

TOLERANCE = Experiment(
    "tolerance",
    {
        "tolerance.csv": ("tolerance", "nfe_forward", "nfe_backward", "accuracy",
                          "seconds_per_forward", "n_images", "timing_batch"),
        "nfe_epochs.csv": ("epoch", "nfe_forward_mean", "nfe_backward_mean"),
    },
    figure=(8, 6), mem_mb=8000, runtime=120,
    settings={
        "seed": SEED,
        "device": DEVICE,
        "tolerances": Setting([1e-1, 1e-2, 1e-3, 1e-4, 1e-5], "rtol = atol values swept",
                              non_empty_positive),
        "n_images": Setting(1000, "test images for the NFE and the accuracy", positive),
        "batch_size": Setting(250, "images per forward pass (and per timed pass)", positive),
        "backward_batch": Setting(128, "images of the one backward pass", positive),
        "timing_repeats": Setting(3, "timed forward passes per tolerance (the median is kept)",
                                  positive),
        "data_path": Setting("", "MNIST source file (empty: the training run's)"),
    },
    tiny={"n_images": 16, "batch_size": 16, "backward_batch": 4, "timing_repeats": 1,
          "tolerances": [0.1, 0.001]},
    uses_gpu=True, needs_run=("mnist", "odenet"),
)

MEMORY = Experiment(
    "memory",
    {"memory.csv": ("steps", "adjoint", "mode", "peak_bytes", "peak_mb", "saved_bytes", "saved_mb",
                    "device")},
    figure=(7, 4.2), mem_mb=4000, runtime=60,
    settings={
        "seed": SEED,
        "device": DEVICE,
        "steps": Setting([1, 2, 4, 8, 16, 32, 64], "rk4 step counts measured (increasing)",
                         increasing_steps),
        "batch": Setting(32, "batch of the ODE block's input", positive),
        "channels": Setting(64, "channels of the ODE block (models.layers.ConvODEFunc)",
                            positive),
        "size": Setting(7, "height and width of its input", positive),
        "jobs": Setting(1, "probes side by side on CPU (the job's threads)", positive),
        "timeout": Setting(600.0, "seconds one probe may take", positive),
    },
    tiny={"steps": [1, 32], "batch": 8, "channels": 16, "size": 16, "jobs": 2},
    uses_gpu=True, parallel_setting="jobs",
)

EULER = Experiment(
    "euler",
    {
        "exponential.csv": ("x", "euler", "pyode_euler", "exact"),
        "convergence.csv": ("h", "n_steps", "euler", "exact", "abs_error", "rel_error", "order"),
        "relaxation.csv": ("y0", "method", "x", "y"),
        "residual_check.csv": ("output_max_abs_diff", "gradient_max_abs_diff", "output_max_abs",
                               "dtype"),
    },
    figure=(10, 3.8), mem_mb=1000, runtime=10,
    settings={
        "seed": SEED,
        "x_max": Setting(4.0, "end of the interval of dy/dx = y", positive),
        "n_halvings": Setting(8, "step halvings of the convergence table", positive),
        "initial_values": Setting([0.0, 1.0, 2.0, 4.0, 5.0, 6.0],
                                  "initial values y(0) of the relaxation dy/dx + y/2 = 3/2",
                                  non_empty),
        "relaxation_step": Setting(1.0, "Euler step of the relaxation curves", positive),
        "relaxation_x_max": Setting(8.0, "end of the relaxation interval", positive),
        "resnet_channels": Setting(8, "channels of the residual block checked against Euler",
                                   positive),
        "resnet_size": Setting(8, "height and width of its input", positive),
        "resnet_batch": Setting(4, "batch of its input", positive),
    },
    tiny={"n_halvings": 4, "resnet_channels": 4, "resnet_size": 4, "resnet_batch": 2},
)

CNF_TARGETS = ("two_moons", "rings", "eight_gaussians")  # pyode.experiments.flows samples them

CNF = Experiment(
    "cnf",
    {
        "training.csv": ("model", "iteration", "loss", "nfe_forward", "nfe_backward", "seconds"),
        "densities.csv": ("model", "stage", "t", "layers", "x1", "x2", "log_density"),
        "samples.csv": ("model", "stage", "t", "layers", "sample", "x1", "x2"),
        "models.csv": ("model", "test_nll", "test_nll_se", "grid_mass", "parameters",
                       "train_seconds", "nfe_forward_mean", "nfe_backward_mean"),
        "test_points.csv": ("x1", "x2"),
    },
    figure=(9, 5), mem_mb=2000, runtime=60,
    settings={
        "seed": SEED,
        "target": Setting("rings", "2-D target density (pyode.experiments.flows.TARGETS)",
                          choice(*CNF_TARGETS)),
        "n_train": Setting(4096, "training points (a fixed sample the batches are drawn from)",
                           positive),
        "n_test": Setting(4096, "held-out points for the test NLL", positive),
        "n_iters": Setting(500, "optimiser steps, the same for every flow", positive),
        "batch_size": Setting(256, "points per optimiser step", positive),
        "lr": Setting(0.01, "Adam learning rate, the same for every flow", positive),
        "cnf_width": Setting(64, "planar units M of the CNF field (Chen et al.: 64)", positive),
        "cnf_hidden": Setting(32, "hidden units of the network of t that emits the CNF field",
                              positive),
        "planar_layers": Setting([1, 8, 32], "depths K of the planar flows compared with the CNF",
                                 distinct_positive),
        # Adaptive only: the point of a CNF's NFE is that the solver chooses it.
        "method": Setting(solver_defaults.METHOD, "adaptive solver method of the CNF",
                          choice(*ADAPTIVE_METHODS)),
        "rtol": Setting(1e-3, "relative tolerance of the CNF's training solves (forward, "
                        "adjoint)", positive),
        "atol": Setting(1e-3, "absolute tolerance of the CNF's training solves", positive),
        "eval_tol": Setting(1e-4, "rtol = atol of the test NLL, density grids and samples",
                            positive),
        "grid_size": Setting(50, "points per side of the density grid", positive),
        "grid_limit": Setting(4.0, "the grid spans [-grid_limit, grid_limit]^2", positive),
        "n_stages": Setting(5, "CNF times / planar depths drawn from noise to data", at_least(2)),
        "n_samples": Setting(1000, "samples drawn per stage", positive),
    },
    tiny={"n_train": 512, "n_test": 512, "n_iters": 60, "batch_size": 128, "lr": 0.03,
          "cnf_width": 16, "cnf_hidden": 16, "grid_size": 24, "n_stages": 3, "n_samples": 100},
)


EXPERIMENTS: tuple[Experiment, ...] = (SPIRAL, LATENT, TOLERANCE, MEMORY, EULER, CNF)
