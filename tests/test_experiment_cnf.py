"""The continuous vs planar normalizing flow experiment and its flows."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pyode.experiments import cnf, run
from pyode.experiments.common import ExperimentError
from pyode.experiments.flows import (
    CNF,
    TARGETS,
    HyperPlanarField,
    PlanarFlow,
    PlanarLayer,
    augmented_dynamics,
    sample_target,
    standard_normal_log_prob,
    target_log_prob,
)
from pyode.experiments.settings import load, validate

SOLVER = {"method": "dopri5", "rtol": 1e-6, "atol": 1e-6, "adjoint": False}


TINY = load(Path(__file__).parents[1] / ".test" / "config.yaml", "cnf")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("cnf")
    return run("cnf", dict(TINY), out), out


def grid(limit: float, n: int) -> tuple[torch.Tensor, float]:
    step = 2 * limit / n
    axis = -limit + step * (torch.arange(n, dtype=torch.float64) + 0.5)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    return torch.stack([x1.reshape(-1), x2.reshape(-1)], 1), step * step


# --- targets --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TARGETS)
def test_targets_are_seeded_and_inside_the_plot(name: str) -> None:
    a = sample_target(name, 500, torch.Generator().manual_seed(1))
    b = sample_target(name, 500, torch.Generator().manual_seed(1))
    assert a.shape == (500, 2) and torch.equal(a, b)
    assert a.abs().max() < 4.0
    assert a.std(0).min() > 0.5  # spread in both directions, not a point mass


@pytest.mark.parametrize("name", TARGETS)
def test_target_density_integrates_to_one_and_matches_the_sampler(name: str) -> None:
    points, area = grid(6.0, 240)  # 20 x 20 fine cells in each of 12 x 12 coarse bins
    density = (target_log_prob(name, points).exp() * area).reshape(240, 240)
    assert float(density.sum()) == pytest.approx(1.0, abs=1e-6)
    expected = density.reshape(12, 20, 12, 20).sum((1, 3))
    x = sample_target(name, 40_000, torch.Generator().manual_seed(0)).double()
    observed = torch.histogramdd(x, bins=[12, 12], range=[-6.0, 6.0, -6.0, 6.0]).hist / len(x)
    # histogramdd bins x1 first; the grid is row-major with x1 fastest (rows are x2)
    assert (observed.T - expected).abs().max() < 0.008


def test_unknown_target() -> None:
    with pytest.raises(ValueError, match="choose one of two_moons, rings"):
        sample_target("spiral", 10, torch.Generator())


# --- planar flow ----------------------------------------------------------------------------------


def scrambled(flow: PlanarFlow, seed: int) -> PlanarFlow:
    """The flow with random layers far from the identity (a trained flow's, not an initial one)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in flow.layers:
            for p, sd in ((layer.w, 2.0), (layer.u, 1.0), (layer.b, 0.5)):
                p.copy_(sd * torch.randn(p.shape, generator=generator, dtype=torch.float64))
    return flow


def test_planar_log_det_matches_autograd_jacobian() -> None:
    torch.manual_seed(0)
    layer = PlanarLayer(2, torch.Generator().manual_seed(3)).double()
    with torch.no_grad():
        layer.w.mul_(20.0)  # far from the identity: log-dets of order one
        layer.u.copy_(torch.tensor([2.0, -1.5], dtype=torch.float64))
        layer.b.fill_(0.3)
    x = torch.randn(20, 2, dtype=torch.float64)
    _, log_det = layer(x)
    for i in range(len(x)):
        jac = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], x[i])
        assert log_det[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), abs=1e-10)
    assert log_det.abs().max() > 0.1


def test_planar_constraint_keeps_layers_invertible() -> None:
    layer = PlanarLayer(2, torch.Generator().manual_seed(0))
    with torch.no_grad():  # u pointing against w: without the projection wᵀu = -8 < -1
        layer.w.copy_(torch.tensor([2.0, 0.0]))
        layer.u.copy_(torch.tensor([-4.0, 1.0]))
    with torch.no_grad():
        assert float(layer.w @ layer.u_hat()) > -1
    y = torch.randn(200, 2, generator=torch.Generator().manual_seed(1)) * 3
    x = layer.inverse(y)
    assert torch.allclose(layer(x)[0], y, atol=1e-5)


def test_planar_density_integrates_to_one_at_every_depth() -> None:
    flow = scrambled(PlanarFlow(8, torch.Generator().manual_seed(2)).double(), seed=2)
    points, area = grid(9.0, 300)
    for k in (0, 1, 4, 8):
        mass = float(flow.log_prob_after(points, k).detach().exp().sum() * area)
        assert mass == pytest.approx(1.0, abs=2e-3), k
    # and the flow is not the identity: the model density differs from the base
    assert (flow.log_prob(points).detach() - standard_normal_log_prob(points)).abs().max() > 0.5


def test_planar_samples_invert_the_normalizing_direction() -> None:
    flow = scrambled(PlanarFlow(4, torch.Generator().manual_seed(5)), seed=5)
    z = torch.randn(100, 2, generator=torch.Generator().manual_seed(6))
    x = flow.sample_after(z, 4)
    back = x
    for layer in flow.layers:
        back = layer(back)[0]
    assert torch.allclose(back, z, atol=1e-4)
    assert not torch.allclose(x, z, atol=1e-2)


# --- continuous flow ------------------------------------------------------------------------------


def field_for_tests() -> HyperPlanarField:
    torch.manual_seed(0)
    field = HyperPlanarField(2, width=8, hidden=8).double()
    with torch.no_grad():
        for p in field.parameters():
            p.mul_(3.0)  # a field that moves points noticeably on [0, 1]
    return field


def test_cnf_trace_is_the_jacobian_trace() -> None:
    field = field_for_tests()
    t = torch.tensor(0.4, dtype=torch.float64)
    z = torch.randn(10, 2, dtype=torch.float64)
    _, trace = field(t, z)
    for i in range(len(z)):
        jac = torch.autograd.functional.jacobian(lambda v: field(t, v[None])[0][0], z[i])
        assert trace[i].item() == pytest.approx(torch.trace(jac).item(), abs=1e-12)
    state = torch.cat([z, torch.zeros(10, 1, dtype=torch.float64)], 1)
    assert torch.allclose(augmented_dynamics(field, t, state)[:, 2], -trace)


def test_cnf_density_integrates_to_one() -> None:
    flow = CNF(field_for_tests())
    points, area = grid(8.0, 80)
    with torch.no_grad():
        log_p = flow.log_prob(points, SOLVER)
    assert float(log_p.exp().sum() * area) == pytest.approx(1.0, abs=5e-3)
    assert (log_p - standard_normal_log_prob(points)).abs().max() > 0.5


def test_cnf_samples_have_the_model_density() -> None:
    """Forward transport and the backward log-density agree: the log p carried along with a
    sample equals log_prob at its end point."""
    flow = CNF(field_for_tests())
    z0 = torch.randn(50, 2, dtype=torch.float64)
    state = torch.cat([z0, standard_normal_log_prob(z0)[:, None]], 1)
    with torch.no_grad():
        end = flow._solve(state, [0.0, 1.0], SOLVER, None)[-1]
        back = flow.log_prob(end[:, :2], SOLVER)
    assert torch.allclose(back, end[:, 2], atol=1e-5)
    assert torch.allclose(flow.sample_path(z0, [0.0, 0.5, 1.0], SOLVER)[-1], end[:, :2])


def test_cnf_adjoint_gradient_matches_backprop() -> None:
    flow = CNF(field_for_tests())
    x = torch.randn(16, 2, dtype=torch.float64)
    grads = []
    for adjoint in (True, False):
        flow.zero_grad()
        (-flow.log_prob(x, {**SOLVER, "rtol": 1e-8, "atol": 1e-8, "adjoint": adjoint}).mean()
         ).backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in flow.parameters()]))
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-6)


# --- the experiment -------------------------------------------------------------------------------


def test_tiny_run_summary(tiny_run) -> None:
    summary, out = tiny_run
    keys = ["nll_base", "nll_cnf", "nll_planar_1", "nll_planar_8", "nll_planar_32"]
    assert summary["cpu_seconds"] > 0
    assert all(math.isfinite(summary[k]) for k in keys)
    on_disk = json.loads((out / "summary.json").read_text())
    assert {k: on_disk[k] for k in keys} == {k: summary[k] for k in keys}
    # maximum likelihood moves every flow off its base, the CNF most of all on held-out points
    assert summary["nll_cnf"] < summary["nll_base"] - 0.3
    assert summary["nll_target"] < min(summary[k] for k in keys)
    assert all(summary[k] < summary["nll_base"] for k in keys[2:])
    for model in summary["models"]:
        assert model["grid_mass"] == pytest.approx(1.0, abs=0.06), model["model"]


def test_tiny_run_csvs(tiny_run) -> None:
    # (the columns are the registry's, checked for every experiment in tests/test_experiments.py)
    _, out = tiny_run
    s = validate("cnf", TINY)
    training = pd.read_csv(out / "training.csv")
    assert training.groupby("model").size().to_dict() == {
        m: s["n_iters"] for m in ["cnf", "planar_1", "planar_8", "planar_32"]}
    cnf_rows = training[training.model == "cnf"]
    assert (cnf_rows.nfe_forward > 0).all() and (cnf_rows.nfe_backward > 0).all()
    densities = pd.read_csv(out / "densities.csv")
    per_stage = densities.groupby(["model", "stage"]).size()
    assert (per_stage == s["grid_size"] ** 2).all()
    cnf_t = densities[densities.model == "cnf"].t.unique()
    assert np.allclose(cnf_t, np.linspace(0, 1, s["n_stages"]))
    assert sorted(densities[densities.model == "planar_8"].layers.unique()) == [0, 4, 8]
    assert sorted(densities[densities.model == "planar_1"].layers.unique()) == [0, 1]
    samples = pd.read_csv(out / "samples.csv")
    assert (samples.groupby(["model", "stage"]).size() == s["n_samples"]).all()
    # stage 0 is the shared base noise for every flow
    first = samples[samples.stage == 0].pivot(index="sample", columns="model", values="x1")
    assert np.allclose(first.to_numpy(), first[["cnf"]].to_numpy(), atol=1e-6)
    assert len(pd.read_csv(out / "test_points.csv")) == s["n_test"]
    assert len(pd.read_csv(out / "models.csv")) == 4


def test_fixed_seed_gives_identical_csvs(tmp_path) -> None:
    settings = {**TINY, "n_iters": 3}
    run("cnf", settings, tmp_path / "a")
    run("cnf", settings, tmp_path / "b")
    for name in ("training.csv", "densities.csv", "samples.csv", "models.csv"):
        a = pd.read_csv(tmp_path / "a" / name)
        b = pd.read_csv(tmp_path / "b" / name)
        time_columns = [c for c in a.columns if "seconds" in c]
        pd.testing.assert_frame_equal(a.drop(columns=time_columns), b.drop(columns=time_columns))


@pytest.mark.parametrize(
    ("override", "match"),
    [({"n_iters": 0}, "'n_iters'"), ({"lr": -1.0}, "'lr'"), ({"batch_size": 2.5}, "'batch_size'"),
     ({"target": "spiral"}, "'target'"), ({"planar_layers": []}, "'planar_layers'"),
     ({"planar_layers": [8, 8]}, "'planar_layers'"), ({"method": "rk4"}, "'method'"),
     ({"n_stages": 1}, "'n_stages'"), ({"rtol": float("nan")}, "'rtol'"),
     ({"n_itters": 5}, "n_itters")],
)
def test_bad_settings_name_the_setting(override, match, tmp_path) -> None:
    with pytest.raises(ValueError, match=match):
        run("cnf", {**TINY, **override}, tmp_path)
    assert not (tmp_path / "summary.json").exists()


def test_non_finite_loss_stops_training_naming_the_iteration() -> None:
    flow = PlanarFlow(1, torch.Generator().manual_seed(0))
    calls = []

    def nll(batch: torch.Tensor, stats) -> torch.Tensor:
        calls.append(1)
        loss = -flow.log_prob(batch).mean()
        return loss * float("nan") if len(calls) == 3 else loss

    data = sample_target("rings", 64, torch.Generator().manual_seed(0))
    with pytest.raises(ExperimentError, match="planar_1 loss is nan at iteration 3"):
        cnf._train("planar_1", flow, nll, data, {**validate("cnf", TINY), "n_iters": 5},
                   torch.Generator().manual_seed(0))
