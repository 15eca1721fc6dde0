"""pyode: neural ordinary differential equations with an adjoint solver (Chen et al., 2018)."""

from __future__ import annotations

from typing import Any

__all__ = ["ODEBlock", "ODESolverError", "__version__", "odeint", "odeint_event"]
__version__ = "0.1.0"

# The solver's public names, imported on first use: `import pyode.registry` (the workflow's
# planning, config checks) must not pay for torch.
_SOLVER_NAMES = ("ODEBlock", "ODESolverError", "odeint", "odeint_event")


def __getattr__(name: str) -> Any:
    if name in _SOLVER_NAMES:
        from importlib import import_module

        from pyode.solver import _EXPORTS

        # From the defining module: once pyode.solver.odeint (the module) is imported, the
        # package's attribute `odeint` is that module, not the function.
        return getattr(import_module(f"pyode.solver.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'pyode' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SOLVER_NAMES])
