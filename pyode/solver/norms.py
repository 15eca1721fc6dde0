"""Error norms: mixed rtol/atol RMS, a block-wise version for flat states, and user norms.

An error *ratio* <= 1 means the step meets the tolerance. rtol and atol are floats, or tensors
that broadcast against the state (per-element tolerances).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

Tolerance = float | Tensor


def scaled_error(err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance) -> Tensor:
    """err / (atol + rtol * max(|y0|, |y1|)), in float32 at least (float16 states)."""
    if err.element_size() < 4:  # float16/bfloat16 states: error control in float32
        err, y0, y1 = err.float(), y0.float(), y1.float()
    scale = torch.maximum(y0.abs(), y1.abs()).mul_(rtol).add_(atol)
    return err.div(scale)


class RMSNorm:
    """sqrt(mean((err / (atol + rtol * max(|y0|, |y1|)))^2)) over the whole state."""

    def __call__(
        self, err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance
    ) -> Tensor:
        return scaled_error(err, y0, y1, rtol, atol).square_().mean().sqrt()


class BlockRMSNorm:
    """Maximum of the RMS norms of contiguous blocks of a flat state.

    Blocks not listed are ignored: leaving out the parameter-gradient block of the adjoint state
    gives the seminorm of Kidger, Chen and Lyons (2021).
    """

    def __init__(self, blocks: Sequence[tuple[int, int]]) -> None:
        self.blocks = [(int(a), int(b)) for a, b in blocks if b > a]

    def __call__(
        self, err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance
    ) -> Tensor:
        sq = scaled_error(err, y0, y1, rtol, atol).square_().reshape(-1)  # 0-d states too
        if len(self.blocks) == 1:
            a, b = self.blocks[0]
            return sq[a:b].mean().sqrt()
        return torch.stack([sq[a:b].mean() for a, b in self.blocks]).max().sqrt()


class CallableNorm:
    """A user's norm, as torchdiffeq takes it: `norm(scaled_error)` returns the error ratio.

    `view` turns the solver's flat scaled error into what the user's norm expects (e.g. the
    tuple of a tuple state's components).
    """

    def __init__(self, norm: Callable[[Any], Any], view: Callable[[Tensor], Any] | None = None):
        self.norm = norm
        self.view = view

    def __call__(
        self, err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance
    ) -> Tensor:
        scaled = scaled_error(err, y0, y1, rtol, atol)
        out = self.norm(scaled if self.view is None else self.view(scaled))
        return torch.as_tensor(out, dtype=scaled.dtype, device=scaled.device).reshape(()).abs()


def check_norm(name: str, norm: Any) -> Callable[[Any], Any]:
    """A norm option must be callable (torchdiffeq's interface: norm(tensor) -> scalar)."""
    if not callable(norm):
        raise ValueError(f"option {name!r} must be a callable norm(tensor) -> scalar, got {norm!r}")
    return norm


RMS_NORM = RMSNorm()
