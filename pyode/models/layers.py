"""Building blocks shared by the models: normalisation, time-aware convolutions, ODE dynamics.

Inside ODE dynamics we normalise with GroupNorm, never BatchNorm: the solver calls the dynamics
many times per forward pass (a different number each time with adaptive steps) and again during
the adjoint pass, so BatchNorm's running statistics would be updated by every solver stage and
its batch statistics would differ between the forward and the backward integration. GroupNorm
normalises each example on its own and has no state beyond its affine parameters.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

import pyode
from pyode import registry
from pyode.solver import defaults


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with up to 32 groups, as in Chen et al.'s MNIST models."""
    return nn.GroupNorm(min(32, channels), channels)


class ConcatConv2d(nn.Module):
    """A 2-d convolution that sees the time t as an extra constant input channel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 padding: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 1, out_channels, kernel_size, padding=padding)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        time = torch.ones_like(x[:, :1]) * t.to(x)
        return self.conv(torch.cat([time, x], dim=1))


class PreActBlock(nn.Module):
    """x + conv(act(gn(conv(act(gn(x)))))): the residual block both ResNets stack, bias-free 3×3."""

    def __init__(self, width: int, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.body = nn.Sequential(
            group_norm(width), activation(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            group_norm(width), activation(inplace=True),
            nn.Conv2d(width, width, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ConvODEFunc(nn.Module):
    """dh/dt = f(t, h): norm → activation → t-conv → norm → activation → t-conv → norm."""

    def __init__(self, channels: int, activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        self.norm1 = group_norm(channels)
        self.act1 = activation()
        self.conv1 = ConcatConv2d(channels, channels)
        self.norm2 = group_norm(channels)
        self.act2 = activation()
        self.conv2 = ConcatConv2d(channels, channels)
        self.norm3 = group_norm(channels)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(t, self.act1(self.norm1(x)))
        out = self.conv2(t, self.act2(self.norm2(out)))
        return self.norm3(out)


def ode_block(func: nn.Module, solver: dict[str, Any]) -> nn.Module:
    """A `pyode.ODEBlock` on [0, 1] configured from a resolved `solver` settings dict."""
    options: dict[str, Any] = {}
    method = solver.get("method", defaults.METHOD)
    # Adaptive methods choose their own steps: step_size / n_steps apply to fixed grids only.
    if method in registry.FIXED_GRID_METHODS:
        if solver.get("n_steps") is not None:
            options["n_steps"] = int(solver["n_steps"])
        elif solver.get("step_size") is not None:
            options["step_size"] = float(solver["step_size"])
    return pyode.ODEBlock(
        func,
        t=registry.ODE_BLOCK_TIME,
        method=method,
        rtol=float(solver.get("rtol", defaults.RTOL)),
        atol=float(solver.get("atol", defaults.ATOL)),
        adjoint=bool(solver.get("adjoint", True)),
        options=options,
    )
