"""CPU thread count for torch: never more threads than the CPUs this process may run on.

More threads than cores makes torch's OpenMP workers wait on each other at every barrier: two
2-thread trainings on a 2-core machine ran epochs 4-5 times slower. A job asking for 4 threads
there gets 2.
"""

from __future__ import annotations

import os


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask: a Slurm allocation, taskset, cgroup)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_torch_threads(requested: int) -> int:
    """Set torch's intra-op threads to min(requested, available CPUs); return the number set."""
    import torch

    threads = max(1, min(int(requested), available_cpus()))
    torch.set_num_threads(threads)
    return threads
