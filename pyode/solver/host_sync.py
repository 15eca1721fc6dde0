"""Every tensor -> python conversion the solver makes goes through here, and is counted.

On a GPU each conversion stalls the host until the device catches up, so the adaptive loop is
allowed one per step (the error ratio). Counting the conversions measures this on any device.
"""

from __future__ import annotations

from torch import Tensor


class HostSyncCounter:
    """Running count of tensor -> python conversions made by the solver (read `count`)."""

    def __init__(self) -> None:
        self.count = 0


HOST_SYNCS = HostSyncCounter()


def to_float(x: Tensor) -> float:
    HOST_SYNCS.count += 1
    return float(x.item())


def to_floats(x: Tensor) -> list[float]:
    """All values of a tensor as python floats, with one conversion."""
    HOST_SYNCS.count += 1
    return [float(v) for v in x.detach().reshape(-1).tolist()]


def to_bool(x: Tensor) -> bool:
    HOST_SYNCS.count += 1
    return bool(x.item())
