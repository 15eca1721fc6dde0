"""Wilson score interval against published values (Newcombe 1998, Table II, method 3)."""

from __future__ import annotations

import pytest

from pyode.intervals import wilson_interval


@pytest.mark.parametrize(
    ("correct", "n", "lo", "hi"),
    [
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_matches_newcombe(correct: int, n: int, lo: float, hi: float) -> None:
    got = wilson_interval(correct, n)
    assert got == pytest.approx((lo, hi), abs=5e-5)


def test_symmetric_in_successes_and_failures() -> None:
    lo, hi = wilson_interval(930, 1000)
    lo2, hi2 = wilson_interval(70, 1000)
    assert (lo, hi) == pytest.approx((1 - hi2, 1 - lo2), abs=1e-12)
    assert lo < 0.93 < hi


def test_all_correct_reaches_one_and_wider_z_is_wider() -> None:
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and lo == pytest.approx(50 / (50 + 1.96**2), abs=1e-12)
    lo99, hi99 = wilson_interval(40, 50, z=2.576)
    lo95, hi95 = wilson_interval(40, 50)
    assert lo99 < lo95 and hi99 > hi95


@pytest.mark.parametrize(
    ("correct", "n", "z", "match"),
    [(1, 0, 1.96, "n must"), (11, 10, 1.96, "correct must"), (-1, 10, 1.96, "correct must"),
     (1.5, 10, 1.96, "correct must"), (1, 10, 0.0, "z must"), (1, 10, float("nan"), "z must")],
)
def test_bad_input(correct, n, z, match) -> None:
    with pytest.raises(ValueError, match=match):
        wilson_interval(correct, n, z)
