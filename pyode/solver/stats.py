"""Per-call solver statistics (plain python ints, so reading them never synchronises a GPU)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class SolverStats:
    """Counts for one odeint call; the backward fields are filled when its backward pass runs."""

    nfe_forward: int = 0
    nfe_backward: int = 0
    n_accepted: int = 0
    n_rejected: int = 0
    n_accepted_backward: int = 0
    n_rejected_backward: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
