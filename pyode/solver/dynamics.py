"""Wrap the user's func(t, y): python-float time in, NFE counted, output shape checked."""

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

    def time(self, t: float) -> Tensor:
        return torch.full((), t, dtype=self.dtype, device=self.device)

    def __call__(self, t: float, y: Tensor) -> Tensor:
        self.nfe += 1
        out = self.func(self.time(t), y)
        check_output(out, self.shape, self.dtype)
        return out


def check_output(out: object, shape: torch.Size, dtype: torch.dtype) -> None:
    """func's output must match the state on every call (checked each time: it is cheap and a
    shape that changes later would otherwise surface as an obscure broadcast error)."""
    if not isinstance(out, Tensor):
        raise ValueError(f"func(t, y) must return a tensor, got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(
            f"func(t, y) returned shape {tuple(out.shape)} but y0 has shape "
            f"{tuple(shape)}; dy/dt must have the shape of y"
        )
    if out.dtype != dtype:
        raise ValueError(f"func(t, y) returned dtype {out.dtype} but y0 has dtype {dtype}")
