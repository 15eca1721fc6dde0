"""The solver's defaults are spelled once (pyode.solver.defaults); every entry point reads them."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from pyode import ODEBlock, odeint, odeint_event
from pyode.experiments.settings import solver_settings
from pyode.interop import rpackage
from pyode.models.layers import ode_block
from pyode.solver import defaults
from pyode.solver.adaptive import AdaptiveOptions
from pyode.solver.controller import StepSizeController
from pyode.solver.fixed_grid import FixedGridOptions
from pyode.train.config import SOLVER_SETTINGS, TRAIN_SETTINGS


def test_signatures_and_option_defaults_are_the_solver_defaults() -> None:
    params = inspect.signature(odeint).parameters
    assert params["method"].default == defaults.METHOD
    assert (params["rtol"].default, params["atol"].default) == (defaults.RTOL, defaults.ATOL)
    options, controller = AdaptiveOptions(), StepSizeController(error_order=4)
    for obj in (options, controller):
        assert (obj.safety, obj.ifactor, obj.dfactor) == (
            defaults.SAFETY, defaults.IFACTOR, defaults.DFACTOR)  # fmt: skip
    assert options.max_num_steps == FixedGridOptions().max_num_steps == defaults.MAX_NUM_STEPS


def test_settings_tables_read_the_solver_defaults() -> None:
    solver = TRAIN_SETTINGS["solver"].default
    assert solver["method"] == SOLVER_SETTINGS["method"].default == defaults.METHOD
    assert (solver["rtol"], solver["atol"]) == (defaults.RTOL, defaults.ATOL)
    assert solver_settings(rtol=1e-5, atol=1e-6)["method"].default == defaults.METHOD


def test_entry_points_read_the_defaults_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing the one place changes ODEBlock, odeint_event and the model layers."""
    monkeypatch.setattr(defaults, "METHOD", "no_such_method")
    func = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="unknown method 'no_such_method'"):
        ODEBlock(func)
    with pytest.raises(ValueError, match="unknown method 'no_such_method'"):
        ode_block(func, {})
    with pytest.raises(ValueError, match="unknown method 'no_such_method'"):
        odeint_event(lambda t, y: -y, torch.ones(1), torch.tensor(0.0),
                     event_fn=lambda t, y: y.sum() - 0.5, adjoint=False)  # fmt: skip


def test_r_package_defaults_match_python(repo_root: Path) -> None:
    """The R package keeps its defaults in R (it must run without Python to document itself);
    its method is the solver's, and its tolerances are those of the Python function it calls."""
    source = (repo_root / "Rscripts/pyode/R/solve.R").read_text()
    match = re.search(r'ode_solve <- function\(func, y0, times, method = "(\w+)", '
                      r"rtol = ([\d.e-]+), atol = ([\d.e-]+)", source)  # fmt: skip
    assert match, "ode_solve's signature changed; update this test"
    bridge = inspect.signature(rpackage.solve).parameters
    assert match[1] == bridge["method"].default == defaults.METHOD
    assert float(match[2]) == bridge["rtol"].default
    assert float(match[3]) == bridge["atol"].default


@pytest.mark.parametrize("where", ["README.md", "Rscripts/pyode/R/solve.R", "odeint"])
def test_every_method_is_documented(repo_root: Path, where: str) -> None:
    """The prose method lists (README's table, odeint's docstring, R's ode_solve) name every
    method of the method table, so a new method cannot be left out of them."""
    from pyode.solver.methods import METHODS

    text = odeint.__doc__ if where == "odeint" else (repo_root / where).read_text()
    missing = [m for m in METHODS if f"`{m}`" not in text and f'"{m}"' not in text]
    assert not missing, f"{where} does not name {missing}"
