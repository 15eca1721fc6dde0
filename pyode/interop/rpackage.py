"""Python side of the R package `pyode` (Rscripts/pyode), reached from R through reticulate.

Values cross the language boundary as Python floats, lists and dicts only: reticulate 1.28
cannot convert NumPy 2 arrays, and an R function cannot do arithmetic on torch tensors. Errors come
back as ``{"ok": False, "error": <class name>, "message": <text>}`` so that R can raise one
condition with pyode's own message.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

DATA_SETTINGS = ("source", "path", "n", "seed", "n_train", "n_test")


def _failure(exc: BaseException) -> dict[str, Any]:
    return {"ok": False, "error": type(exc).__name__, "message": str(exc)}


def solve(
    func: Callable[[float, list[float]], Any],
    y0: list[float],
    times: list[float],
    method: str = "dopri5",
    rtol: float = 1e-6,
    atol: float = 1e-6,
    options: Mapping[str, Any] | None = None,
    on_failure: str = "raise",
) -> dict[str, Any]:
    """Solve dy/dt = func(t, y) for a function of plain numbers; the states at `times` as lists,
    with how the solve ended (`status`, `t_reached`: odeint's on_failure)."""
    import torch

    from pyode import odeint
    from pyode.solver import SolverStats

    n_state = len(y0)

    def field(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        value = func(float(t), [float(v) for v in y.tolist()])
        if isinstance(value, int | float):
            value = [value]
        out = torch.tensor(value, dtype=torch.float64)
        if out.shape != (n_state,):
            raise ValueError(f"func(t, y) returned {out.numel()} values; the state has {n_state}")
        return out

    stats = SolverStats()
    try:
        with torch.no_grad():
            solution = odeint(
                field,
                torch.tensor(y0, dtype=torch.float64),
                torch.tensor(times, dtype=torch.float64),
                method=method,
                rtol=rtol,
                atol=atol,
                adjoint=False,
                options=dict(options) if options else None,
                on_failure=on_failure,
                stats=stats,
            )
    except Exception as exc:  # every failure goes back to R as a condition
        return _failure(exc)
    return {"ok": True, "states": solution.tolist(), "status": stats.status,
            "t_reached": stats.t_reached}  # fmt: skip


def default_profile() -> Path:
    """The project's offline default training profile, config/config.yaml."""
    return Path(__file__).resolve().parents[2] / "config" / "config.yaml"


def settings_overrides(settings: Mapping[str, Any]) -> dict[str, Any]:
    """R argument names to the dotted settings of pyode.train (n_train -> data.n_train)."""
    return {
        (f"data.{key}" if key in DATA_SETTINGS else key): value for key, value in settings.items()
    }


def train_run(
    dataset: str,
    model: str,
    out: str,
    settings: Mapping[str, Any] | None = None,
    profile: str | None = None,
) -> dict[str, Any]:
    """Train one model with `settings` over the profile; the run folder's path or the failure."""
    from pyode.planner import load_checked_profile
    from pyode.train import resolve_config, train

    try:
        path = Path(profile) if profile else default_profile()
        # The whole profile checked as the workflow and the CLI check it.
        config = resolve_config(load_checked_profile(path), dataset, model,
                                settings_overrides(settings or {}))
        train(config, out)
    except Exception as exc:  # every failure goes back to R as a condition
        return _failure(exc)
    return {"ok": True, "out": os.fspath(out)}
