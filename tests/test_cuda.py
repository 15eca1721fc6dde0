"""The solver on a CUDA device: gradients, the adjoint's constant memory and training's memory
columns.

These run where CUDA is available and skip, with the reason, everywhere else.
"""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from torch import nn

from pyode import odeint
from pyode.models.layers import ConvODEFunc
from pyode.solver.block import ODEBlock
from pyode.train import resolve_config, train
from pyode.train.metrics import saved_by

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA device; torch.cuda.is_available() is False")

CUDA = torch.device("cuda")


class Field(nn.Module):
    """A small smooth time-dependent field: tanh MLP on [y, t]."""

    def __init__(self, dim: int = 2, hidden: int = 16) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.w1 = nn.Parameter(torch.randn(dim + 1, hidden, generator=generator) * 0.5)
        self.w2 = nn.Parameter(torch.randn(hidden, dim, generator=generator) * 0.5)

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        ty = torch.cat([y, t.expand(y.shape[0], 1)], dim=1)
        return torch.tanh(ty @ self.w1) @ self.w2


def _loss_and_grads(func: nn.Module, y0: torch.Tensor, **kwargs) -> tuple[torch.Tensor, ...]:
    y0 = y0.detach().clone().requires_grad_(True)
    t = torch.tensor([0.0, 0.5, 1.0], dtype=y0.dtype, device=y0.device)
    loss = odeint(func, y0, t, **kwargs).pow(2).sum()
    return (loss, *torch.autograd.grad(loss, [y0, *func.parameters()]))


@pytest.mark.parametrize(("dtype", "tol", "eps", "agree"), [
    (torch.float64, 1e-9, 1e-6, 1e-6),
    (torch.float32, 1e-6, 1e-2, 2e-2),
])
def test_adjoint_direct_and_finite_differences_agree_on_cuda(dtype, tol, eps, agree) -> None:
    func = Field().to(CUDA, dtype)
    y0 = torch.tensor([[0.3, -0.7], [1.1, 0.2]], dtype=dtype, device=CUDA)
    solve = dict(method="dopri5", rtol=tol, atol=tol)
    _, *adjoint = _loss_and_grads(func, y0, adjoint=True, **solve)
    _, *direct = _loss_and_grads(func, y0, adjoint=False, **solve)
    for a, d in zip(adjoint, direct, strict=True):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a, d, rtol=agree, atol=agree)

    # central differences of the loss in the first entries of y0 and of the first weight matrix
    def loss_with(y0_: torch.Tensor) -> float:
        with torch.no_grad():
            t = torch.tensor([0.0, 0.5, 1.0], dtype=dtype, device=CUDA)
            return odeint(func, y0_, t, adjoint=False, **solve).pow(2).sum().item()

    for i in range(y0.numel()):
        step = torch.zeros_like(y0).view(-1)
        step[i] = eps
        fd = (loss_with(y0 + step.view_as(y0)) - loss_with(y0 - step.view_as(y0))) / (2 * eps)
        assert fd == pytest.approx(adjoint[0].view(-1)[i].item(), rel=agree, abs=agree)


class ConvField(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


def _peak_step_bytes(n_steps: int, adjoint: bool) -> int:
    torch.manual_seed(0)
    func = ConvField(32).to(CUDA)
    x = torch.randn(64, 32, 28, 28, device=CUDA, requires_grad=True)
    t = torch.tensor([0.0, 1.0], device=CUDA)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = odeint(func, x, t, method="rk4", options={"n_steps": n_steps}, adjoint=adjoint)
    out[-1].pow(2).mean().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


def test_adjoint_peak_memory_is_flat_in_steps_while_backprop_grows() -> None:
    adjoint = [_peak_step_bytes(n, adjoint=True) for n in (4, 32)]
    direct = [_peak_step_bytes(n, adjoint=False) for n in (4, 32)]
    # eight times the steps: the adjoint keeps one step's activations, backprop keeps them all
    assert adjoint[1] < 1.3 * adjoint[0], adjoint
    assert direct[1] > 4 * direct[0], direct
    assert direct[1] > 4 * adjoint[1], (direct, adjoint)


@pytest.mark.parametrize("method,options", [("dopri5", None), ("rk4", {"n_steps": 5})])
def test_partial_results_on_cuda_match_the_cpu(method, options) -> None:
    """on_failure="return" on the device: the same outputs reached, status and t_reached."""
    from pyode.solver import SolverStats

    def func(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.where(t > 1.31, torch.full_like(y, float("nan")), -y)

    results = []
    for device in ("cpu", CUDA):
        stats = SolverStats()
        y0 = torch.tensor([1.0, 0.5], dtype=torch.float64, device=device)
        t = torch.linspace(0.0, 2.0, 9, dtype=torch.float64, device=device)
        ys = odeint(func, y0, t, method=method, options=options, rtol=1e-8, atol=1e-8,
                    adjoint=False, on_failure="return", stats=stats)  # fmt: skip
        results.append((ys.cpu(), stats.status, stats.t_reached))
    (cpu, status, reached), (gpu, gpu_status, gpu_reached) = results
    assert status == gpu_status == "non_finite"
    assert reached == pytest.approx(gpu_reached, abs=1e-9)
    assert torch.isnan(gpu[6:]).all() and torch.isfinite(gpu[:6]).all()
    torch.testing.assert_close(gpu[:6], cpu[:6], rtol=1e-9, atol=1e-12)


def test_per_sample_on_cuda_matches_the_cpu() -> None:
    """per_sample=True on the device: each row's steps, states and adjoint gradients as on the
    CPU (the per-row times, steps and masks travel between host and device every step)."""
    from pyode.solver import SolverStats

    class RowField(Field):
        def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            ty = torch.cat([y, t.reshape(-1, 1).expand(y.shape[0], 1)], dim=1)
            return torch.tanh(ty @ self.w1) @ self.w2

    results = []
    for device in ("cpu", CUDA):
        func = RowField().double().to(device)
        y0 = (torch.linspace(-2.0, 2.0, 12, dtype=torch.float64).view(6, 2) * 3).to(device)
        y0.requires_grad_(True)
        t = torch.linspace(0.0, 2.0, 5, dtype=torch.float64, device=device)
        stats = SolverStats()
        ys = odeint(func, y0, t, per_sample=True, rtol=1e-8, atol=1e-8, stats=stats)
        grads = torch.autograd.grad(ys.pow(2).sum(), [y0, *func.parameters()])
        results.append((ys.detach().cpu(), [g.cpu() for g in grads], stats))
    (cpu, cpu_grads, cpu_stats), (gpu, gpu_grads, gpu_stats) = results
    assert gpu_stats.n_accepted_per_sample == cpu_stats.n_accepted_per_sample
    assert gpu_stats.n_accepted_backward_per_sample == cpu_stats.n_accepted_backward_per_sample
    torch.testing.assert_close(gpu, cpu, rtol=1e-9, atol=1e-11)
    for g, c in zip(gpu_grads, cpu_grads):
        torch.testing.assert_close(g, c, rtol=1e-8, atol=1e-10)


def _saved_bytes(device: torch.device, adjoint: bool, n_steps: int) -> int:
    torch.manual_seed(0)
    func = ConvODEFunc(4).to(device)
    block = ODEBlock(func, method="rk4", adjoint=adjoint, options={"n_steps": n_steps}).to(device)
    with saved_by([block], ignore=block.parameters()) as saved:
        block(torch.randn(8, 4, 8, 8, device=device))
        return saved.nbytes()


def test_saved_bytes_measure_the_same_on_cuda_as_on_the_cpu() -> None:
    # the measure of the runs' saved_mb: what autograd keeps, whatever the device
    for adjoint in (True, False):
        for n_steps in (1, 4):
            on_cuda = _saved_bytes(CUDA, adjoint, n_steps)
            on_cpu = _saved_bytes(torch.device("cpu"), adjoint, n_steps)
            assert on_cuda == pytest.approx(on_cpu, rel=0.1), (adjoint, n_steps)


def test_training_on_cuda_writes_each_steps_allocator_peak(tiny_profile, tmp_path) -> None:
    profile = tiny_profile()
    profile["device"] = "cuda"
    train(resolve_config(profile, "mnist", "rknet"), tmp_path)
    iterations = pd.read_csv(tmp_path / "iterations.csv")
    epochs = pd.read_csv(tmp_path / "epochs.csv")
    assert (iterations["cuda_peak_mb"] > 0).all() and (iterations["saved_mb"] > 0).all()
    # the step's peak holds at least what the forward kept for the backward pass
    assert (iterations["cuda_peak_mb"] >= iterations["saved_mb"]).all()
    # the run's peak is kept across the per-step resets
    assert epochs["peak_memory_mb"].iloc[0] >= iterations["cuda_peak_mb"].max()
    assert epochs["cuda_peak_mb_mean"].iloc[0] == pytest.approx(iterations["cuda_peak_mb"].mean())
