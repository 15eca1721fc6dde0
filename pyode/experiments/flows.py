"""Normalizing flows on 2-D toy densities: the targets, a planar flow and a continuous one.

Targets (sampled, never evaluated): two moons, two concentric rings, a mixture of eight Gaussians,
scaled to lie inside [-4, 4]^2.

Planar flow (Rezende & Mohamed 2015): layers f(x) = x + û h(wᵀx + b), h = tanh, with û the
projection of u that makes wᵀû > -1, so each layer is invertible, and log|det ∂f/∂x| =
log|1 + ûᵀ h'(wᵀx + b) w|. The stack is applied in the normalizing direction (data -> noise):
log q(x) = log N(f_K ∘ ... ∘ f_1(x)) + Σ log|det|, exact and cheap, so it can be trained by maximum
likelihood; samples come from the inverse, one monotone scalar equation per layer.

Continuous flow (Chen et al. 2018, section 4): dz/dt = (1/M) Σ_i σ(g_i(t)) u_i(t) tanh(w_i(t)ᵀz +
b_i(t)), whose parameters a small network of t emits (a hypernetwork). Its Jacobian is
(1/M) Σ_i σ(g_i) u_i (1 - tanh²) w_iᵀ, so the trace in d log p/dt = -tr(∂f/∂z) is exact and costs
one extra product. Time runs from 0 (noise) to 1 (data).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

import pyode
from pyode.registry.experiments import CNF_TARGETS as TARGETS  # the `target` setting's choices
from pyode.solver.stats import SolverStats

T_NOISE, T_DATA = 0.0, 1.0
LOG_2PI = math.log(2 * math.pi)


def sample_target(name: str, n: int, generator: torch.Generator) -> Tensor:
    """n points (float32, shape (n, 2)) from the named toy density."""
    if name == "two_moons":
        # Two interleaved half circles (as sklearn's make_moons), centred and doubled, noise 0.1.
        upper = torch.rand(n, generator=generator) < 0.5
        angle = math.pi * torch.rand(n, generator=generator)
        x = torch.where(upper, torch.cos(angle), 1 - torch.cos(angle))
        y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
        points = 2 * (torch.stack([x, y], 1) - torch.tensor([0.5, 0.25]))
        return points + 0.1 * torch.randn(n, 2, generator=generator)
    if name == "rings":
        # Two concentric circles of radius 1.5 and 3, equally likely, radial noise sd 0.1.
        outer = torch.rand(n, generator=generator) < 0.5
        radius = torch.where(outer, 3.0, 1.5) + 0.1 * torch.randn(n, generator=generator)
        angle = 2 * math.pi * torch.rand(n, generator=generator)
        return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], 1)
    if name == "eight_gaussians":
        # Eight equally weighted Gaussians (sd 0.25) evenly spaced on the circle of radius 2.5.
        k = torch.randint(0, 8, (n,), generator=generator)
        angle = 2 * math.pi * k / 8
        centres = 2.5 * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        return centres + 0.25 * torch.randn(n, 2, generator=generator)
    raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")


def target_log_prob(name: str, x: Tensor) -> Tensor:
    """The exact log-density of the named target at x (float64): the floor any model's NLL on
    samples of it can reach, up to sampling error. Two moons: the noise convolved with the uniform
    angle, by the midpoint rule on 2,048 angles (spaced 0.003 along the arcs, noise sd 0.1)."""
    x = x.double()
    if name == "two_moons":
        angle = math.pi * (torch.arange(2048, dtype=torch.float64) + 0.5) / 2048
        upper = torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        lower = torch.stack([1 - torch.cos(angle), 0.5 - torch.sin(angle)], 1)
        centres = 2 * (torch.cat([upper, lower]) - torch.tensor([0.5, 0.25], dtype=torch.float64))
        return _gaussian_mixture_log_prob(x, centres, 0.1)
    if name == "rings":
        radius = x.norm(dim=1)
        radial = torch.stack([-0.5 * ((radius - r) / 0.1) ** 2 for r in (1.5, 3.0)], 1)
        log_radial = torch.logsumexp(radial, 1) - math.log(2) - 0.5 * LOG_2PI - math.log(0.1)
        return log_radial - torch.log(2 * math.pi * radius)
    if name == "eight_gaussians":
        angle = 2 * math.pi * torch.arange(8, dtype=torch.float64) / 8
        centres = 2.5 * torch.stack([torch.cos(angle), torch.sin(angle)], 1)
        return _gaussian_mixture_log_prob(x, centres, 0.25)
    raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")


def _gaussian_mixture_log_prob(x: Tensor, centres: Tensor, sd: float) -> Tensor:
    """log of the equally weighted mixture of N(centre, sd² I) in 2-D."""
    squared = torch.cdist(x, centres).pow(2)
    return (torch.logsumexp(-0.5 * squared / sd**2, 1) - math.log(len(centres))
            - LOG_2PI - 2 * math.log(sd))


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


# --- Planar flow ----------------------------------------------------------------------------------


class PlanarLayer(nn.Module):
    """x -> x + û tanh(wᵀx + b), invertible by the constraint wᵀû > -1."""

    def __init__(self, dim: int, generator: torch.Generator) -> None:
        super().__init__()
        # Start near the identity: with wᵀu = log(e - 1) the projection gives wᵀû = 0, so û is u's
        # small random part orthogonal to w. (Small random w and u would give wᵀû ≈ -0.31, a
        # contraction along w that compounds over deep stacks: an initial NLL of 13 nats at K=32.)
        w = torch.randn(dim, generator=generator)
        self.w = nn.Parameter(w)
        self.u = nn.Parameter(math.log(math.e - 1) * w / (w @ w)
                              + 0.01 * torch.randn(dim, generator=generator))
        self.b = nn.Parameter(torch.zeros(()))

    def u_hat(self) -> Tensor:
        """u moved along w until wᵀû = -1 + softplus(wᵀu) > -1 (Rezende & Mohamed, appendix A)."""
        wu = self.w @ self.u
        return self.u + (F.softplus(wu) - 1 - wu) * self.w / (self.w @ self.w)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The image of x and log|det ∂f/∂x| at x."""
        u = self.u_hat()
        h = torch.tanh(x @ self.w + self.b)
        psi_u = (1 - h.pow(2)) * (self.w @ u)  # ûᵀψ(x) with ψ = h'(wᵀx + b) w
        return x + h[:, None] * u, torch.log(torch.abs(1 + psi_u))

    @torch.no_grad()
    def inverse(self, y: Tensor, iterations: int = 60) -> Tensor:
        """The x with f(x) = y: bisection on a = wᵀx, which solves wᵀy = a + wᵀû tanh(a + b).

        The right side is strictly increasing in a and |tanh| <= 1, so a lies within |wᵀû| of wᵀy;
        60 halvings in float64 reach the float64 resolution of that bracket.
        """
        u, w, b = self.u_hat().double(), self.w.double(), self.b.double()
        wy, s = y.double() @ w, w @ u
        lo, hi = wy - s.abs(), wy + s.abs()
        for _ in range(iterations):
            mid = (lo + hi) / 2
            above = mid + s * torch.tanh(mid + b) > wy
            hi = torch.where(above, mid, hi)
            lo = torch.where(above, lo, mid)
        a = (lo + hi) / 2
        return (y.double() - torch.tanh(a + b)[:, None] * u).to(y.dtype)


class PlanarFlow(nn.Module):
    """K planar layers mapping data to a standard normal base."""

    def __init__(self, n_layers: int, generator: torch.Generator, dim: int = 2) -> None:
        super().__init__()
        self.layers = nn.ModuleList(PlanarLayer(dim, generator) for _ in range(n_layers))

    def log_prob_after(self, x: Tensor, k: int) -> Tensor:
        """Log-density at x of noise pushed through the first k of K generative layers.

        Those are the inverses of the last k normalizing layers, so x runs through layers K-k..K-1
        to the base. k = K is the model density, k = 0 the base itself.
        """
        total = torch.zeros(x.shape[0], dtype=x.dtype)
        for layer in self.layers[len(self.layers) - k :]:
            x, log_det = layer(x)
            total = total + log_det
        return standard_normal_log_prob(x) + total

    def log_prob(self, x: Tensor) -> Tensor:
        return self.log_prob_after(x, len(self.layers))

    def sample_after(self, z: Tensor, k: int) -> Tensor:
        """Base points z pushed through the first k generative layers (inverse layers K-1..K-k)."""
        for layer in reversed(self.layers[len(self.layers) - k :]):
            z = layer.inverse(z)
        return z


# --- Continuous normalizing flow ------------------------------------------------------------------


class HyperPlanarField(nn.Module):
    """The time-dependent planar field of Chen et al.'s CNF: returns dz/dt and tr(∂f/∂z)."""

    def __init__(self, dim: int = 2, width: int = 32, hidden: int = 32) -> None:
        super().__init__()
        self.dim, self.width = dim, width
        self.hyper = nn.Sequential(
            nn.Linear(1, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, width * (2 * dim + 2)),
        )

    def forward(self, t: Tensor, z: Tensor) -> tuple[Tensor, Tensor]:
        params = self.hyper(t.reshape(1, 1).to(z)).reshape(self.width, 2 * self.dim + 2)
        w, u = params[:, : self.dim], params[:, self.dim : 2 * self.dim]
        b, gate = params[:, 2 * self.dim], params[:, 2 * self.dim + 1]
        u = u * torch.sigmoid(gate)[:, None]
        h = torch.tanh(z @ w.T + b)  # (N, M)
        dz = h @ u / self.width
        trace = (1 - h.pow(2)) @ (u * w).sum(1) / self.width
        return dz, trace


def augmented_dynamics(field: nn.Module, t: Tensor, state: Tensor) -> Tensor:
    """d/dt [z, log p] = [f(t, z), -tr ∂f/∂z] on the concatenated state (N, dim + 1).

    The only function that knows the layout of the state; a (z, log p) tuple state replaces it here.
    """
    dz, trace = field(t, state[:, :-1])
    return torch.cat([dz, -trace[:, None]], dim=1)


class CNF(nn.Module):
    """Continuous normalizing flow: the field, integrated with its log-density by pyode.odeint."""

    def __init__(self, field: nn.Module) -> None:
        super().__init__()
        self.field = field

    def forward(self, t: Tensor, state: Tensor) -> Tensor:
        return augmented_dynamics(self.field, t, state)

    def _solve(self, state: Tensor, times: list[float], solver: Mapping[str, Any],
               stats: SolverStats | None) -> Tensor:
        t = torch.tensor(times, dtype=state.dtype)
        return pyode.odeint(self, state, t, method=solver["method"], rtol=solver["rtol"],
                            atol=solver["atol"], adjoint=solver.get("adjoint", True), stats=stats)

    def log_prob_at(self, x: Tensor, t: float, solver: Mapping[str, Any],
                    stats: SolverStats | None = None) -> Tensor:
        """log p_t(x): the state [x, 0] carried from t back to the noise time gives z(0) and
        ∫_0^t tr dt, and log p_t(x) = log N(z(0)) - ∫_0^t tr dt."""
        if t == T_NOISE:
            return standard_normal_log_prob(x)
        state = torch.cat([x, torch.zeros(x.shape[0], 1, dtype=x.dtype)], 1)
        end = self._solve(state, [t, T_NOISE], solver, stats)[-1]
        return standard_normal_log_prob(end[:, :-1]) - end[:, -1]

    def log_prob(self, x: Tensor, solver: Mapping[str, Any],
                 stats: SolverStats | None = None) -> Tensor:
        return self.log_prob_at(x, T_DATA, solver, stats)

    def sample_path(self, z0: Tensor, times: list[float], solver: Mapping[str, Any]) -> Tensor:
        """Base points z0 carried forward to each of `times` (increasing, from T_NOISE)."""
        state = torch.cat([z0, standard_normal_log_prob(z0)[:, None]], 1)
        with torch.no_grad():
            path = self._solve(state, times, {**solver, "adjoint": False}, None)
        return path[:, :, :-1]
