"""States that are tuples of tensors, solved as one flat vector with one norm block each.

The flat vector is what the solvers and the adjoint see; the user's func sees and returns the
tuple. The error norm is the maximum of the components' RMS norms, as in torchdiffeq.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from pyode.solver.norms import BlockRMSNorm


class TupleState:
    """Shapes and offsets of the components of a tuple state."""

    def __init__(self, y0: tuple[Tensor, ...]) -> None:
        if not y0:
            raise ValueError("y0 is an empty tuple; give at least one tensor")
        for i, y in enumerate(y0):
            if not isinstance(y, Tensor):
                raise ValueError(f"y0[{i}] must be a torch tensor, got {type(y).__name__}")
        dtypes = {y.dtype for y in y0}
        devices = {y.device for y in y0}
        if len(dtypes) > 1 or len(devices) > 1:
            raise ValueError(
                "the tensors of a tuple y0 must share one dtype and device, got "
                + ", ".join(f"{y.dtype} on {y.device}" for y in y0)
            )
        self.shapes = [y.shape for y in y0]
        sizes = [y.numel() for y in y0]
        offsets = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
        self.blocks = list(itertools.pairwise(offsets))

    def flatten(self, ys: Any, what: str = "func(t, y)") -> Tensor:
        if not isinstance(ys, tuple | list) or len(ys) != len(self.shapes):
            raise ValueError(
                f"{what} must return a tuple of {len(self.shapes)} tensors like y0, "
                f"got {type(ys).__name__}"
            )
        for i, (y, shape) in enumerate(zip(ys, self.shapes)):
            if not isinstance(y, Tensor) or y.shape != shape:
                got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
                raise ValueError(f"{what}[{i}] has shape {got}, expected {tuple(shape)}")
        return torch.cat([y.reshape(-1) for y in ys])

    def unflatten(self, flat: Tensor) -> tuple[Tensor, ...]:
        """Views of the components; leading dimensions (e.g. time) are kept."""
        lead = flat.shape[:-1]
        return tuple(flat[..., a:b].view((*lead, *shape))
                     for (a, b), shape in zip(self.blocks, self.shapes))  # fmt: skip

    def func(self, func: Callable[..., Any]) -> Callable[[Tensor, Tensor], Tensor]:
        def flat_func(t: Tensor, y: Tensor) -> Tensor:
            return self.flatten(func(t, self.unflatten(y)))

        return flat_func

    def norm(self) -> BlockRMSNorm:
        return BlockRMSNorm(self.blocks)
