"""Adjoint memory does not grow with the number of steps; direct backprop grows linearly."""

from __future__ import annotations

from pyode.solver.memory_probe import measure_step_memory


def test_adjoint_memory_constant_direct_memory_linear() -> None:
    # Each call runs `python -m pyode.solver.memory_probe` in a fresh process (peak RSS).
    adj_16 = measure_step_memory(16, adjoint=True)
    adj_128 = measure_step_memory(128, adjoint=True)
    assert adj_16 > 0
    assert adj_128 / adj_16 <= 1.1, (adj_16, adj_128)
    direct_8 = measure_step_memory(8, adjoint=False)
    direct_32 = measure_step_memory(32, adjoint=False)
    # Four times the steps: close to four times the stored activations.
    assert 2.5 <= direct_32 / direct_8 <= 4.5, (direct_8, direct_32)
    assert direct_8 > adj_128

