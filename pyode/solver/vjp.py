"""Vector-Jacobian products for the adjoint, without torch.autograd.grad's Python prologue.

torch.autograd.grad spends tens of microseconds per call normalising its arguments before it
reaches the C++ autograd engine; the adjoint calls it once per function evaluation with
arguments that are already normalised, so it calls the engine directly. Where the engine
entry point is not available, torch.autograd.grad gives the same result.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

try:
    from torch.autograd.variable import Variable

    _ENGINE = Variable._execution_engine
    _ENGINE.run_backward  # noqa: B018  (present in every torch this package supports)
except (ImportError, AttributeError):  # pragma: no cover - depends on the torch build
    _ENGINE = None


def vjp(output: Tensor, inputs: Sequence[Tensor], cotangent: Tensor) -> tuple[Tensor | None, ...]:
    """cotangent^T d output / d inputs; None for inputs output does not depend on.

    `output` must require grad and `cotangent` have its shape and dtype.
    """
    if _ENGINE is None:
        return torch.autograd.grad(output, inputs, cotangent, allow_unused=True)
    return _ENGINE.run_backward(
        (output,), (cotangent,), False, False, tuple(inputs), True, accumulate_grad=False
    )


def vjp_kept(
    outputs: Sequence[Tensor], inputs: Sequence[Tensor], cotangents: Sequence[Tensor]
) -> tuple[Tensor | None, ...]:
    """sum_k cotangents[k]^T d outputs[k] / d inputs, keeping the graphs for further vjps."""
    if _ENGINE is None:
        return torch.autograd.grad(tuple(outputs), tuple(inputs), tuple(cotangents),
                                   retain_graph=True, allow_unused=True)  # fmt: skip
    return _ENGINE.run_backward(
        tuple(outputs), tuple(cotangents), True, False, tuple(inputs), True, accumulate_grad=False
    )
