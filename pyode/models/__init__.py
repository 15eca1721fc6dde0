"""Model builders for every dataset × model pair the registry declares."""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from pyode import registry

# Parameter counts of Chen et al. (2018), Table 1.
PAPER_PARAMS = {m.name: m.paper_params for m in registry.MODELS if m.paper_params is not None}


def build_model(dataset: str, model: str, *, solver: dict[str, Any] | None = None) -> nn.Module:
    """A freshly initialised model from `pyode.models.<dataset>.<model>`; `solver` (method, rtol,
    atol, step_size, n_steps, adjoint) configures the ODE block of continuous-depth models."""
    if dataset not in registry.dataset_names():
        raise ValueError(f"unknown dataset {dataset!r}; choose one of "
                         f"{', '.join(registry.dataset_names())}")
    if model not in registry.model_names(dataset):
        raise ValueError(f"unknown model {model!r} for {dataset}; choose one of "
                         f"{', '.join(registry.model_names(dataset))}")
    builder = getattr(importlib.import_module(f"pyode.models.{dataset}"), model)
    if registry.model(model).continuous_depth:
        return builder(dict(solver or {}))
    return builder()


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def ode_blocks(module: nn.Module) -> list[nn.Module]:
    """The ODE blocks inside a model, whose solver statistics give its evaluation counts."""
    from pyode.solver import ODEBlock

    return [m for m in module.modules() if isinstance(m, ODEBlock)]
