"""Confidence intervals for the accuracies the paper and tables report."""

from __future__ import annotations

import math


def wilson_interval(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a proportion correct / n (z = 1.96: 95 %).

    Unlike the Wald interval p ± z sqrt(p(1 - p) / n) it stays inside [0, 1] and keeps its coverage
    near 0 and 1, where test accuracies of well-trained models lie.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct <= n:
        raise ValueError(f"correct must be an integer in 0..n = 0..{n}, got {correct!r}")
    if not (isinstance(z, (int, float)) and math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a positive finite number, got {z!r}")
    p = correct / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Clamp rounding at the ends (correct = 0 or n gives exactly 0 or 1 in exact arithmetic).
    return max(0.0, centre - half), min(1.0, centre + half)
