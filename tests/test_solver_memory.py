"""Peak memory of a training step: flat in the number of steps with the adjoint, linear without."""

from __future__ import annotations

from functools import partial

import pytest

from pyode.experiments.memory_probe import measure_step_memory

# A state of 16 x 8 x 32 x 32 floats (512 KiB): large enough that the allocator's own noise (about
# a megabyte of resident memory) stays small beside the adjoint's peak of roughly 17 MB.
measure = partial(measure_step_memory, batch=16, channels=8, size=32)


@pytest.mark.slow  # six probe processes
def test_adjoint_memory_constant_direct_memory_linear() -> None:
    # Each call runs `python -m pyode.experiments.memory_probe` in a fresh process (peak RSS); the
    # adjoint's two points take the lower of two runs, as noise only ever adds resident pages.
    adj_16 = min(measure(16, adjoint=True) for _ in range(2))
    adj_128 = min(measure(128, adjoint=True) for _ in range(2))
    assert adj_16 > 0
    assert adj_128 / adj_16 <= 1.1, (adj_16, adj_128)
    direct_8 = measure(8, adjoint=False)
    direct_32 = measure(32, adjoint=False)
    # Four times the steps: close to four times the stored activations.
    assert 2.5 <= direct_32 / direct_8 <= 4.5, (direct_8, direct_32)
    assert direct_8 > adj_128
