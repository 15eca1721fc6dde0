"""Error norms: mixed rtol/atol RMS, a block-wise version for flat states, and user norms.

An error *ratio* <= 1 means the step meets the tolerance. rtol and atol are floats, or tensors
that broadcast against the state (per-element tolerances).
"""

from __future__ import annotations

import itertools
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

    # A small state's block means come from one segment reduction: there the cost is per
    # operation, not per element (the adjoint of a small network measures a few hundred
    # elements in 6+ blocks every step). Above this size the reduction's sequential sums are
    # slower than one mean per block, and less accurate in float32.
    FUSED_MAX = 4096

    def __init__(self, blocks: Sequence[tuple[int, int]]) -> None:
        self.blocks = [(int(a), int(b)) for a, b in blocks if b > a]
        self._ordered = sorted(self.blocks)
        self._disjoint = all(b <= a2 for (_, b), (a2, _) in itertools.pairwise(self._ordered))
        self._segments: dict[tuple[int, torch.device], tuple[Tensor, Tensor]] = {}

    def __call__(
        self, err: Tensor, y0: Tensor, y1: Tensor, rtol: Tolerance, atol: Tolerance
    ) -> Tensor:
        sq = scaled_error(err, y0, y1, rtol, atol).square_().reshape(-1)  # 0-d states too
        if len(self.blocks) == 1:
            a, b = self.blocks[0]
            return sq[a:b].mean().sqrt()
        if self._disjoint and sq.numel() <= self.FUSED_MAX:
            lengths, picked = self._segments_of(sq)
            means = torch.segment_reduce(sq, "mean", lengths=lengths)
            return means.index_select(0, picked).max().sqrt()
        return torch.stack([sq[a:b].mean() for a, b in self.blocks]).max().sqrt()

    def _segments_of(self, sq: Tensor) -> tuple[Tensor, Tensor]:
        """Segment lengths covering all of `sq` in order (the blocks and the gaps between
        them), and the indices of the blocks' segments; computed once per size and device."""
        key = (sq.numel(), sq.device)
        if key not in self._segments:
            lengths, picked, at = [], [], 0
            for a, b in self._ordered:
                if a > at:
                    lengths.append(a - at)
                picked.append(len(lengths))
                lengths.append(b - a)
                at = b
            if sq.numel() > at:
                lengths.append(sq.numel() - at)
            self._segments[key] = (torch.tensor(lengths, device=sq.device),
                                   torch.tensor(picked, device=sq.device))  # fmt: skip
        return self._segments[key]


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
