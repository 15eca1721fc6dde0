"""Wrap the user's func(t, y): python-float time in, NFE counted, output shape checked once."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

TensorFunc = Callable[[Tensor, Tensor], Tensor]


class CountedDynamics:
    """Call func with t as a 0-d tensor of the state's dtype/device and count evaluations.

    Times travel through the solver as python floats (no device round trips); torch.full builds
    the 0-d tensor with an asynchronous fill, so no host synchronisation is added per call.
    """

    def __init__(self, func: TensorFunc, like: Tensor) -> None:
        self.func = func
        self.dtype = like.dtype
        self.device = like.device
        self.shape = like.shape
        self.nfe = 0
        self._checked = False

    def time(self, t: float) -> Tensor:
        return torch.full((), t, dtype=self.dtype, device=self.device)

    def __call__(self, t: float, y: Tensor) -> Tensor:
        self.nfe += 1
        out = self.func(self.time(t), y)
        if not self._checked:
            self._check(out)
        return out

    def _check(self, out: object) -> None:
        if not isinstance(out, Tensor):
            raise ValueError(f"func(t, y) must return a tensor, got {type(out).__name__}")
        if out.shape != self.shape:
            raise ValueError(
                f"func(t, y) returned shape {tuple(out.shape)} but y0 has shape "
                f"{tuple(self.shape)}; dy/dt must have the shape of y"
            )
        if out.dtype != self.dtype:
            raise ValueError(f"func(t, y) returned dtype {out.dtype} but y0 has dtype {self.dtype}")
        self._checked = True
