"""Values that settings of several tables choose from: the solver's methods and the devices."""

from __future__ import annotations

from pyode.solver.methods import METHOD_TABLE

# Solver methods usable from a config: every method of the solver's one method table
# (`pyode.solver.methods`, plain data like the registry), in its order. Adaptive methods carry an
# embedded error estimate; the others run on a fixed grid and need n_steps or step_size.
METHODS: tuple[str, ...] = tuple(METHOD_TABLE)
ADAPTIVE_METHODS: tuple[str, ...] = tuple(n for n, m in METHOD_TABLE.items() if m.adaptive)
FIXED_GRID_METHODS: tuple[str, ...] = tuple(
    n for n, m in METHOD_TABLE.items() if not m.adaptive
)
# The `device` setting of runs and experiments: auto picks CUDA when there is one.
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
