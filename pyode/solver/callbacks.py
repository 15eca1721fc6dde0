"""Step callbacks attached to func, as in torchdiffeq: looked up once per solve.

`func.callback_step(t0, y0, dt)` runs before each step, `callback_accept_step` /
`callback_reject_step` after its error test (adaptive methods only); the `_adjoint` twins run in
the adjoint's backward solve. A callback the method cannot call, or an attribute that looks like a
misspelt callback name, warns instead of being silently ignored.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection
from typing import Any

import torch
from torch import Tensor

CALLBACK_NAMES = ("callback_step", "callback_accept_step", "callback_reject_step")
ADJOINT_CALLBACK_NAMES = tuple(f"{name}_adjoint" for name in CALLBACK_NAMES)

Callback = Callable[[Tensor, Any, Tensor], Any]


class StepCallbacks:
    """The callbacks of one solve; `state` maps the solver's flat state to what the user sees.

    Times reach the callbacks as float64 0-d tensors on the state's device (the solver's clock);
    dt is signed, so t0 + dt is the end of the step in either direction.
    """

    def __init__(
        self,
        step: Callback | None = None,
        accept: Callback | None = None,
        reject: Callback | None = None,
        state: Callable[[Tensor], Any] | None = None,
    ) -> None:
        self._step, self._accept, self._reject = step, accept, reject
        self._state = state
        self.active = any(c is not None for c in (step, accept, reject))

    def _call(self, callback: Callback | None, t0: float, y0: Tensor, dt: float) -> None:
        if callback is None:
            return
        kw = {"dtype": torch.float64, "device": y0.device}
        y = y0 if self._state is None else self._state(y0)
        callback(torch.tensor(t0, **kw), y, torch.tensor(dt, **kw))

    def step(self, t0: float, y0: Tensor, dt: float) -> None:
        self._call(self._step, t0, y0, dt)

    def accept(self, t0: float, y0: Tensor, dt: float) -> None:
        self._call(self._accept, t0, y0, dt)

    def reject(self, t0: float, y0: Tensor, dt: float) -> None:
        self._call(self._reject, t0, y0, dt)


NO_CALLBACKS = StepCallbacks()


def find_callbacks(
    func: Any,
    method: str,
    supported: Collection[str],
    *,
    adjoint: bool = False,
    state: Callable[[Tensor], Any] | None = None,
) -> StepCallbacks:
    """The step callbacks func carries (the `_adjoint` ones when `adjoint`).

    Warns, as torchdiffeq does, when func carries a callback `method` never calls, and when it
    carries a `callback*` attribute that is no callback name at all (a misspelling).
    """
    known = set(CALLBACK_NAMES) | set(ADJOINT_CALLBACK_NAMES)
    names = ADJOINT_CALLBACK_NAMES if adjoint else CALLBACK_NAMES
    found = {}
    for name, base in zip(names, CALLBACK_NAMES):
        callback = getattr(func, name, None)
        if callback is None:
            continue
        if not callable(callback):
            raise ValueError(f"func.{name} must be callable as {name}(t0, y0, dt)")
        if base not in supported:
            warnings.warn(f"Solver {method!r} does not support callbacks {{{name!r}}}",
                          stacklevel=3)  # fmt: skip
            continue
        found[base] = callback
    if not adjoint:
        odd = [n for n in _attribute_names(func) if n.startswith("callback") and n not in known]
        if odd:
            warnings.warn(
                f"func has attribute(s) {', '.join(map(repr, odd))}, which are not step callbacks "
                f"and are never called; the callback names are {', '.join(sorted(known))}",
                stacklevel=3,
            )
    if not found:
        return NO_CALLBACKS
    return StepCallbacks(
        found.get("callback_step"),
        found.get("callback_accept_step"),
        found.get("callback_reject_step"),
        state,
    )


def _attribute_names(func: Any) -> list[str]:
    """Instance and class attribute names, without walking a module's submodules."""
    names = set(getattr(func, "__dict__", {}))
    names.update(n for cls in type(func).__mro__ for n in vars(cls))
    return sorted(names)
