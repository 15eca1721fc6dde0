"""Model builders for every dataset × model pair the workflow trains."""

from __future__ import annotations

from typing import Any

from torch import nn

from pyode.models import iceberg, mnist

MODELS: dict[str, tuple[str, ...]] = {
    "mnist": ("mlp", "resnet", "odenet", "rknet"),
    "iceberg": ("mlp", "resnet", "odenet"),
}

# Parameter counts of Chen et al. (2018), Table 1.
PAPER_PARAMS = {"mlp": 0.24e6, "resnet": 0.60e6, "odenet": 0.22e6, "rknet": 0.22e6}


def build_model(dataset: str, model: str, *, solver: dict[str, Any] | None = None) -> nn.Module:
    """A freshly initialised model; `solver` (method, rtol, atol, step_size, n_steps, adjoint)
    configures the ODE block of `odenet` / `rknet` and is ignored by the others."""
    if dataset not in MODELS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(MODELS)}")
    if model not in MODELS[dataset]:
        raise ValueError(f"unknown model {model!r} for {dataset}; choose one of "
                         f"{', '.join(MODELS[dataset])}")
    solver = dict(solver or {})
    module = mnist if dataset == "mnist" else iceberg
    builder = getattr(module, model)
    return builder(solver) if model in ("odenet", "rknet") else builder()


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def ode_blocks(module: nn.Module) -> list[nn.Module]:
    """The ODE blocks inside a model (those that keep solver statistics)."""
    return [m for m in module.modules() if hasattr(m, "stats") and hasattr(m, "func")]
