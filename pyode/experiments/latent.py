"""Latent ODE vs RNN decoder on irregularly sampled spirals (Chen et al. 2018, section 5).

Each spiral turns clockwise or counter-clockwise (half each) with a random radius and phase while
its radius shrinks linearly; it is observed with noise at random (irregular) times in the first
`observed_fraction` of [0, t_max]. A GRU encoder reads the observations backwards in time and gives
q(z0 | x); a decoder maps z0 to the whole trajectory: either a latent ODE dz/dt = f(z) followed by a
readout, or a GRU fed the time gaps (the RNN baseline). Both are trained on the same ELBO (Gaussian
likelihood, KL to N(0, I)) and compared on held-out spirals: interpolation MSE at unobserved times
inside the observed interval, extrapolation MSE beyond it (both against the noise-free spiral).
The RNN decoder is unrolled on the regular grid (one GRU step per grid interval) and read at the
observed times, so that it meets the same time steps in training and in evaluation; the latent ODE
is solved at the observed times themselves.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

import pyode
from pyode.experiments.common import ExperimentRun, Training, train
from pyode.solver import SolverStats
from pyode.train.metrics import evaluation_counts

MODELS = ("latent_ode", "rnn")
ANGULAR_SPEED = 1.0  # radians per time unit
RADIUS_RANGE = (1.5, 2.5)
SHRINK = 0.5  # the radius falls linearly to (1 - SHRINK) of its start at t_max


def make_spirals(n: int, t: torch.Tensor, noise_sd: float, generator: torch.Generator):
    """Noise-free and noisy spirals (n, len(t), 2) and their directions (+1 ccw, -1 cw)."""
    direction = torch.ones(n)
    direction[: n // 2] = -1.0
    direction = direction[torch.randperm(n, generator=generator)]
    radius0 = RADIUS_RANGE[0] + (RADIUS_RANGE[1] - RADIUS_RANGE[0]) * torch.rand(
        n, generator=generator
    )
    phase0 = 2 * math.pi * torch.rand(n, generator=generator)
    radius = radius0[:, None] * (1 - SHRINK * t[None, :] / t[-1])
    angle = phase0[:, None] + direction[:, None] * ANGULAR_SPEED * t[None, :]
    clean = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=-1)
    noisy = clean + noise_sd * torch.randn(clean.shape, generator=generator)
    return clean, noisy, direction


def sample_observed(n_observed_grid: int, n_obs: int, generator: torch.Generator) -> torch.Tensor:
    """Sorted random grid indices in [0, n_observed_grid): irregular observation times."""
    return torch.sort(torch.randperm(n_observed_grid, generator=generator)[:n_obs]).values


class Encoder(nn.Module):
    """GRU over (x, y, time gap) from the last observation back to the first -> q(z0)."""

    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(3, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 2 * latent_dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        gaps = torch.diff(t, prepend=t[:1])
        features = torch.cat([x, gaps[None, :, None].expand(x.shape[0], -1, 1)], dim=-1)
        _, h = self.gru(torch.flip(features, dims=[1]))
        mean, logvar = self.out(h[-1]).chunk(2, dim=-1)
        return mean, logvar


class LatentField(nn.Module):
    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden), nn.ELU(),
            nn.Linear(hidden, hidden), nn.ELU(),
            nn.Linear(hidden, latent_dim),
        )

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ODEDecoder(nn.Module):
    """z(t) = ODE solution from z0, then a small readout to the observation space."""

    def __init__(self, latent_dim: int, hidden: int, solver: dict[str, Any]) -> None:
        super().__init__()
        self.func = LatentField(latent_dim, hidden)
        self.stats = SolverStats()  # the evaluation counts of the most recent solve
        self.readout = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ELU(), nn.Linear(hidden, 2))
        self.solver = solver

    def forward(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        # The latent state is z0 at time 0, so integrate from 0 even when the first time is later.
        times = t if float(t[0]) == 0.0 else torch.cat([t.new_zeros(1), t])
        self.stats = SolverStats()
        z = pyode.odeint(self.func, z0, times, stats=self.stats, **self.solver)
        if times is not t:
            z = z[1:]
        return self.readout(z).transpose(0, 1)  # (batch, len(t), 2)

    def at(self, z0: torch.Tensor, grid: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Predictions at grid[index] (sorted indices)."""
        return self(z0, grid[index])


class RNNDecoder(nn.Module):
    """A GRU whose state starts from z0 and advances by the time gap to each output time."""

    def __init__(self, latent_dim: int, hidden: int) -> None:
        super().__init__()
        self.init = nn.Linear(latent_dim, hidden)
        self.gru = nn.GRU(1, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, 2)

    def forward(self, z0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        gaps = torch.diff(t, prepend=t.new_zeros(1))
        inputs = gaps[None, :, None].expand(z0.shape[0], -1, 1)
        h, _ = self.gru(inputs, torch.tanh(self.init(z0))[None])
        return self.readout(h)

    def at(self, z0: torch.Tensor, grid: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """Predictions at grid[index]: unrolled on the grid up to the last index, then read."""
        return self(z0, grid[: int(index[-1]) + 1])[:, index]


class VAE(nn.Module):
    def __init__(self, encoder: Encoder, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def neg_elbo(
        self, x: torch.Tensor, grid: torch.Tensor, index: torch.Tensor, likelihood_sd: float,
        generator: torch.Generator,
    ) -> torch.Tensor:
        """-ELBO per sequence of observations x at times grid[index]; one sample of z0."""
        mean, logvar = self.encoder(x, grid[index])
        eps = torch.randn(mean.shape, generator=generator)
        z0 = mean + torch.exp(0.5 * logvar) * eps
        pred = self.decoder.at(z0, grid, index)
        log_lik = -0.5 * (((x - pred) / likelihood_sd) ** 2 + 2 * math.log(likelihood_sd)
                          + math.log(2 * math.pi)).sum(dim=(1, 2))
        kl = 0.5 * (torch.exp(logvar) + mean**2 - 1 - logvar).sum(dim=1)
        return (kl - log_lik).mean()

    @torch.no_grad()
    def predict(self, x: torch.Tensor, t_obs: torch.Tensor, t_out: torch.Tensor) -> torch.Tensor:
        mean, _ = self.encoder(x, t_obs)
        return self.decoder(mean, t_out)


def _fit(name: str, model: VAE, train_noisy: torch.Tensor, t: torch.Tensor, n_observed_grid: int,
         s: dict[str, Any]) -> Training:
    """Train `model` on the ELBO of random batches of the training spirals, each observed at
    random grid times; both models draw the same batches."""
    batches = torch.Generator().manual_seed(s["seed"] + 1)

    def step(iteration: int, stats: SolverStats) -> tuple[torch.Tensor, dict[str, Any]]:
        batch = torch.randint(0, s["n_train"], (s["batch_size"],), generator=batches)
        observed = sample_observed(n_observed_grid, s["n_obs"], batches)
        x = train_noisy[batch][:, observed]
        return model.neg_elbo(x, t, observed, s["likelihood_sd"], batches), {"model": name}

    # The ODE decoder keeps the counts of its solve; the RNN's stay zero.
    solved = [m for m in model.modules() if isinstance(m, ODEDecoder)]
    return train(f"latent: the {name}", model.parameters(), step, lr=s["lr"],
                 n_iters=s["n_iters"], counts=lambda: evaluation_counts(solved),
                 loss_column="neg_elbo")


def run(settings: dict[str, Any], out_dir: Path, run_dir: Path | None = None) -> dict[str, Any]:
    s = settings
    experiment = ExperimentRun("latent", s, out_dir)
    generator = experiment.generator
    t = torch.linspace(0.0, s["t_max"], s["n_grid"])
    n_observed_grid = int(s["n_grid"] * s["observed_fraction"])
    _, train_noisy, _ = make_spirals(s["n_train"], t, s["noise_sd"], generator)
    test_clean, test_noisy, test_direction = make_spirals(s["n_test"], t, s["noise_sd"], generator)
    test_observed = sample_observed(n_observed_grid, s["n_obs"], generator)
    solver = {"method": s["method"], "rtol": s["rtol"], "atol": s["atol"], "adjoint": s["adjoint"]}

    training: list[dict[str, Any]] = []
    metrics: list[dict[str, Any]] = []
    examples: list[pd.DataFrame] = []
    interpolation_mask = torch.ones(n_observed_grid, dtype=torch.bool)
    interpolation_mask[test_observed] = False
    n_examples = min(s["n_examples"], s["n_test"])

    for model_name in MODELS:
        torch.manual_seed(s["seed"])  # the same encoder initialisation for both decoders
        encoder = Encoder(s["latent_dim"], s["hidden"])
        decoder: nn.Module = (ODEDecoder(s["latent_dim"], s["hidden"], solver)
                              if model_name == "latent_ode"
                              else RNNDecoder(s["latent_dim"], s["hidden"]))
        model = VAE(encoder, decoder)
        fitted = _fit(model_name, model, train_noisy, t, n_observed_grid, s)
        training += fitted.rows
        train_seconds = fitted.seconds

        model.eval()
        pred = model.predict(test_noisy[:, test_observed], t[test_observed], t)
        sq_error = ((pred - test_clean) ** 2).mean(dim=-1)  # (n_test, n_grid)
        parts = {
            "reconstruction": sq_error[:, test_observed],
            "interpolation": sq_error[:, :n_observed_grid][:, interpolation_mask],
            "extrapolation": sq_error[:, n_observed_grid:],
        }
        for part, err in parts.items():
            metrics.append({"model": model_name, "part": part, "mse": float(err.mean()),
                            "mse_sd": float(err.mean(dim=1).std()) if len(err) > 1 else 0.0,
                            "n_spirals": s["n_test"], "train_seconds": train_seconds,
                            "final_neg_elbo": training[-1]["neg_elbo"]})
        for i in range(n_examples):
            examples.append(_trajectory_frame(model_name, i, t, pred[i]))

    for i in range(n_examples):
        examples.append(_trajectory_frame("truth", i, t, test_clean[i]))
        examples.append(
            _trajectory_frame("observed", i, t[test_observed], test_noisy[i, test_observed])
        )
    example_frame = pd.concat(examples, ignore_index=True)
    example_frame["direction"] = example_frame["spiral"].map(
        {i: "ccw" if test_direction[i] > 0 else "cw" for i in range(n_examples)}
    )

    experiment.write("training.csv", training)
    experiment.write("metrics.csv", metrics)
    experiment.write("examples.csv", example_frame)
    by_model = {m: {r["part"]: r["mse"] for r in metrics if r["model"] == m} for m in MODELS}
    results = {
        "mse": by_model,
        "observed_until": float(t[n_observed_grid - 1]),
        "t_max": s["t_max"],
        "test_observation_times": t[test_observed].tolist(),
        "spiral_family": {"angular_speed": ANGULAR_SPEED, "radius_range": list(RADIUS_RANGE),
                          "shrink": SHRINK},
        "mean_nfe_forward": float(np.mean([r["nfe_forward"] for r in training
                                           if r["model"] == "latent_ode"])),
    }
    return experiment.finish(results)


def _trajectory_frame(series: str, spiral: int, t: torch.Tensor, xy: torch.Tensor) -> pd.DataFrame:
    return pd.DataFrame({"series": series, "spiral": spiral, "t": t.numpy(),
                         "x": xy[:, 0].numpy(), "y": xy[:, 1].numpy()})
