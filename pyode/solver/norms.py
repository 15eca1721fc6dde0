"""Error norms: mixed rtol/atol RMS, and a block-wise version for the adjoint's flat state.

An error *ratio* <= 1 means the step meets the tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def _scaled_square(err: Tensor, y0: Tensor, y1: Tensor, rtol: float, atol: float) -> Tensor:
    if err.element_size() < 4:  # float16/bfloat16 states: error control in float32
        err, y0, y1 = err.float(), y0.float(), y1.float()
    scale = torch.maximum(y0.abs(), y1.abs()).mul_(rtol).add_(atol)
    return err.div(scale).square_()


class RMSNorm:
    """sqrt(mean((err / (atol + rtol * max(|y0|, |y1|)))^2)) over the whole state."""

    def __call__(self, err: Tensor, y0: Tensor, y1: Tensor, rtol: float, atol: float) -> Tensor:
        return _scaled_square(err, y0, y1, rtol, atol).mean().sqrt()


class BlockRMSNorm:
    """Maximum of the RMS norms of contiguous blocks of a flat state.

    Blocks not listed are ignored: leaving out the parameter-gradient block of the adjoint state
    gives the seminorm of Kidger, Chen and Lyons (2021).
    """

    def __init__(self, blocks: Sequence[tuple[int, int]]) -> None:
        self.blocks = [(int(a), int(b)) for a, b in blocks if b > a]

    def __call__(self, err: Tensor, y0: Tensor, y1: Tensor, rtol: float, atol: float) -> Tensor:
        sq = _scaled_square(err, y0, y1, rtol, atol)
        if len(self.blocks) == 1:
            a, b = self.blocks[0]
            return sq[a:b].mean().sqrt()
        return torch.stack([sq[a:b].mean() for a, b in self.blocks]).max().sqrt()


RMS_NORM = RMSNorm()
