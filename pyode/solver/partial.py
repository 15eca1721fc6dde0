"""`on_failure`: a solve that fails raises (the default) or returns what it reached.

With "return", the outputs up to the failure are kept and every later output is NaN (the
result keeps its full shape); the solve's SolverStats says what happened (`status`,
`t_reached`). The NaN rows are constants: no gradient flows into or out of them.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pyode.solver.errors import ODESolverError
from pyode.solver.stats import SolverStats

ON_FAILURE = ("raise", "return")


def check_on_failure(value: Any) -> str:
    if not (isinstance(value, str) and value in ON_FAILURE):
        raise ValueError(f"on_failure must be one of {', '.join(map(repr, ON_FAILURE))}, "
                         f"got {value!r}")  # fmt: skip
    return value


def failed(
    error: ODESolverError,
    outputs: list[Tensor],
    n_times: int,
    on_failure: str,
    stats: SolverStats | None,
) -> list[Tensor]:
    """Record `error` in `stats` (None: a backward solve, whose failures are not the forward's
    status), then raise it, or return `outputs` padded with NaN to `n_times` outputs."""
    if stats is not None and error.reason is not None:
        stats.status = error.reason
        stats.t_reached = error.t if error.t is not None else math.nan
    if on_failure == "raise" or error.reason is None:
        raise error
    pad = torch.full_like(outputs[0], math.nan)
    return outputs + [pad] * (n_times - len(outputs))


def n_reached(times: list[float], t_reached: float) -> int:
    """How many of the output times (monotone, either direction) lie at or before t_reached."""
    direction = 1.0 if times[-1] > times[0] else -1.0
    return sum(1 for t in times if direction * (t - t_reached) <= 0)
