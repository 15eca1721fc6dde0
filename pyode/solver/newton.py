"""Simplified Newton iterations for the stages of the implicit methods, Jacobians by autograd.

A stage solves Y = base + h*gamma*f(t, Y). Each iteration solves (I - h*gamma*J) dY = residual
with J = df/dy taken once at a step's start and kept (simplified Newton, as Hairer's RADAU5
and SDIRK4): J is recomputed only when the iterations converge slowly or fail, and the
factorisation of I - h*gamma*J only when h changes, so it serves every stage of a step and
every step of equal size. Convergence follows Hairer & Wanner (Solving ODEs II, IV.8): with
the contraction rate theta = |dY_k| / |dY_{k-1}|, the stage is solved once
theta / (1 - theta) * |dY_k| <= kappa in the error norm (rtol/atol), and it has failed when
theta >= 1 or after `max_newton_iters` iterations; the caller then rejects the step (a smaller
one converges faster). Unlike RADAU5, slow but steady contraction is not given up early: the
stages' starting values are poorer than a collocation method's, so early iterations often
contract slowly, and a rejected step costs more than a few iterations.

Two ways to get J (the option `jacobian`):
- "dense": J as a matrix, all its rows in one batched backward pass (one pass per row where
  an operation cannot be batched), then an LU factorisation. Exact and cheapest per iteration;
  for small states (n up to a few hundred: it costs n^2 memory and an n^3 factorisation).
- "krylov": matrix-free; (I - h*gamma*J) v from Jacobian-vector products (a double backward
  pass through a graph kept from the step's start) inside GMRES. Memory and cost per product
  are those of one backward pass whatever n is: for large states (e.g. a neural ODE's batch of
  hidden states), where n backward passes and an n x n matrix are out of reach. It is chosen
  over a block-diagonal (per batch row) Jacobian because it assumes nothing about the state's
  structure: it also serves the adjoint's augmented state, whose rows are coupled.

A dynamics object may say that only its `coupled` components (a slice of the flat state) feed
back into f (the adjoint's augmented state: the parameter gradients are quadratures); Newton
then solves for those and the rest follow from f. Its `traced(t, y)` evaluates f with a graph
back to y (the adjoint's derivative is a vector-Jacobian product that its plain call detaches).
A field autograd cannot differentiate (an R function through reticulate, numpy inside) gets its
J, or its Jacobian-vector products, by forward differences instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from pyode.solver.errors import StepFailure
from pyode.solver.host_sync import to_float, to_floats
from pyode.solver.rk_step import Func
from pyode.solver.stats import SolverStats, StepCounter

JACOBIANS = ("dense", "krylov")
# A stage counts as solved when its predicted remaining error is below KAPPA times the local
# error tolerance (Hairer & Wanner suggest 0.01 to 0.1).
KAPPA = 0.03
# J is refreshed at the next step's start when an iteration contracted slower than this.
SLOW_RATE = 0.1
KRYLOV_RTOL = 1e-6
SMALL = 32  # dense systems up to this size are solved by their inverse
FEW_ROWS = 16  # dense Jacobians up to this size are taken row by row (batching costs more)
KRYLOV_MAX_DIM = 60

Scale = Callable[[Tensor], float]  # |dY| in the error norm (<= 1: within rtol/atol)


@dataclass(frozen=True)
class NewtonOptions:
    jacobian: str = "dense"
    max_iters: int = 10


def traced(func: Func, t: float, y: Tensor, coupled: slice) -> tuple[Tensor, Tensor]:
    """(y as a leaf that requires grad, the coupled part of f(t, y) with a graph back to it)."""
    y_leaf = y.detach().requires_grad_(True)
    with torch.enable_grad():
        evaluate = getattr(func, "traced", func)
        return y_leaf, evaluate(t, y_leaf).reshape(-1)[coupled]


class NewtonMatrix:
    """J at one point and the solver of (I - hg * J) x = r on the coupled components."""

    def __init__(self, func: Func, t: float, y: Tensor, coupled: slice) -> None:
        self.t, self.y, self.coupled = t, y, coupled
        self.m = len(range(y.numel())[coupled])
        self.hg: float | None = None
        self.factorizations = 0

    def solve(self, r: Tensor, hg: float) -> Tensor:
        raise NotImplementedError


class DenseMatrix(NewtonMatrix):
    def __init__(self, func: Func, t: float, y: Tensor, coupled: slice) -> None:
        super().__init__(func, t, y, coupled)
        y_leaf, f_head = traced(func, t, y, coupled)
        m = self.m
        jac = torch.zeros(m, m, dtype=y.dtype, device=y.device)
        if not f_head.requires_grad:  # autograd cannot see f (R, numpy), or f ignores y
            jac = finite_differences(func, t, y, f_head.detach(), coupled)
        else:
            eye = torch.eye(m, dtype=y.dtype, device=y.device)
            rows = None
            if m > FEW_ROWS:  # all rows in one batched backward pass
                try:
                    (rows,) = torch.autograd.grad(f_head, y_leaf, eye, retain_graph=True,
                                                  is_grads_batched=True, allow_unused=True)
                except RuntimeError:  # an operation without a batching rule
                    rows = None
            if rows is not None:
                jac = rows.reshape(m, -1)[:, coupled]
            else:
                for i in range(m):
                    (row,) = torch.autograd.grad(f_head, y_leaf, eye[i], retain_graph=True,
                                                 allow_unused=True)  # fmt: skip
                    if row is not None:
                        jac[i] = row.reshape(-1)[coupled]
        self.jac = jac
        self.lu: tuple[Tensor, Tensor] | None = None
        self.inverse: Tensor | None = None

    def solve(self, r: Tensor, hg: float) -> Tensor:
        if hg != self.hg:
            eye = torch.eye(self.m, dtype=self.jac.dtype, device=self.jac.device)
            self.lu = torch.linalg.lu_factor(eye - hg * self.jac)
            self.factorizations += 1
            # A small system is solved fastest as a product with its inverse (one kernel
            # instead of two triangular solves); the LU gives it.
            self.inverse = torch.linalg.lu_solve(*self.lu, eye) if self.m <= SMALL else None
            self.hg = hg
        if self.inverse is not None:
            return self.inverse @ r
        assert self.lu is not None
        return torch.linalg.lu_solve(*self.lu, r[:, None])[:, 0]


def finite_differences(func: Func, t: float, y: Tensor, f_head: Tensor, coupled: slice
                       ) -> Tensor:  # fmt: skip
    """J by forward differences, one evaluation per coupled component, for a field autograd
    cannot differentiate (steps sqrt(eps) * max(|y_j|, 1), as scipy's Radau and BDF)."""
    flat = y.detach().reshape(-1)
    root_eps = math.sqrt(torch.finfo(y.dtype).eps)
    values = to_floats(flat)
    columns = []
    with torch.no_grad():
        for j in range(flat.numel())[coupled]:
            h = root_eps * max(abs(values[j]), 1.0)
            moved = flat.clone()
            moved[j] += h
            columns.append((func(t, moved.view_as(y)).reshape(-1)[coupled] - f_head) / h)
    return torch.stack(columns, 1)


class KrylovMatrix(NewtonMatrix):
    def __init__(self, func: Func, t: float, y: Tensor, coupled: slice) -> None:
        super().__init__(func, t, y, coupled)
        y_leaf, f_head = traced(func, t, y, coupled)
        self.func, self.f_head = func, f_head.detach()
        self.linear = f_head.requires_grad
        if self.linear:
            # J^T u as a function of u; differentiating it in u gives J v (a double backward).
            with torch.enable_grad():
                self.u = torch.zeros_like(f_head, requires_grad=True)
                (jtu,) = torch.autograd.grad(f_head, y_leaf, self.u, create_graph=True,
                                             allow_unused=True)  # fmt: skip
                self.linear = jtu is not None and jtu.requires_grad
                if self.linear:
                    self.jtu = jtu.reshape(-1)[coupled]

    def jvp(self, v: Tensor) -> Tensor:
        if not self.linear:  # autograd cannot see f: a forward difference along v
            size = to_float(v.norm())
            if size == 0.0:
                return torch.zeros_like(v)
            flat = self.y.detach().reshape(-1)
            h = math.sqrt(torch.finfo(flat.dtype).eps) * (1.0 + to_float(flat.norm())) / size
            moved = flat.clone()
            moved[self.coupled] += h * v.detach()
            with torch.no_grad():
                moved_f = self.func(self.t, moved.view_as(self.y)).reshape(-1)[self.coupled]
            return (moved_f - self.f_head) / h
        (out,) = torch.autograd.grad(self.jtu, self.u, v, retain_graph=True,
                                     create_graph=v.requires_grad)  # fmt: skip
        return out

    def solve(self, r: Tensor, hg: float) -> Tensor:
        self.hg = hg
        return gmres(lambda v: v - hg * self.jvp(v), r, KRYLOV_RTOL, min(KRYLOV_MAX_DIM, self.m))


def gmres(matvec: Callable[[Tensor], Tensor], b: Tensor, rtol: float, max_dim: int) -> Tensor:
    """x with |matvec(x) - b| <= rtol |b| (or the best in max_dim Krylov directions).

    Arnoldi with modified Gram-Schmidt; the small least-squares problem is solved afresh each
    iteration (max_dim is small). Differentiable in b when matvec is.
    """
    beta = b.norm()
    if to_float(beta) == 0.0:
        return torch.zeros_like(b)
    basis = [b / beta]
    columns: list[Tensor] = []
    coeffs = b.new_zeros(0)
    for j in range(max_dim):
        w = matvec(basis[j])
        col = []
        for v in basis:
            hij = torch.dot(w, v)
            w = w - hij * v
            col.append(hij)
        norm_w = w.norm()
        col.append(norm_w)
        columns.append(torch.stack(col))
        k = j + 1
        hess = torch.stack([torch.cat([c, c.new_zeros(k + 1 - c.numel())]) for c in columns], 1)
        rhs = torch.zeros(k + 1, dtype=b.dtype, device=b.device)
        rhs[0] = 1.0
        rhs = rhs * beta
        coeffs = torch.linalg.lstsq(hess, rhs[:, None]).solution[:, 0]
        residual, breakdown = to_floats(torch.stack([(hess @ coeffs - rhs).norm() / beta, norm_w]))
        if residual <= rtol or breakdown <= 1e-14 * to_float(beta):
            break
        basis.append(w / norm_w)
    return sum((c * v for c, v in zip(coeffs, basis)), torch.zeros_like(b))


MATRICES: dict[str, type[NewtonMatrix]] = {"dense": DenseMatrix, "krylov": KrylovMatrix}


class Newton:
    """The Newton state of one solve: the current Jacobian, whether it is due for renewal,
    and the last contraction estimate (which starts the next stage's convergence test)."""

    def __init__(self, options: NewtonOptions, counter: StepCounter | None = None) -> None:
        self.options = options
        self.matrix: NewtonMatrix | None = None
        self.refresh = True
        self.eta = 1.0
        # The solve's counter receives the Jacobians and factorisations (its stats).
        self.counter = counter or StepCounter(SolverStats())

    def prepare(self, func: Func, t: float, y: Tensor) -> None:
        """Take J at (t, y) when it is due (first step, slow convergence, a failure)."""
        if self.matrix is not None and (not self.refresh or self.is_at(t, y)):
            return
        coupled = getattr(func, "coupled", slice(None))
        self.matrix = MATRICES[self.options.jacobian](func, t, y, coupled)
        self.counter.newton_work(jacobians=1)
        self.refresh = False

    def is_at(self, t: float, y: Tensor) -> bool:
        """Whether J was taken at (t, y) (then a failure cannot be J's age)."""
        return self.matrix is not None and self.matrix.t == t and self.matrix.y is y

    def solve_stage(
        self, func: Func, t: float, base: Tensor, k_guess: Tensor, hg: float, scale: Scale
    ) -> tuple[Tensor, Tensor]:
        """(Y, k) with Y = base + hg * k solving Y = base + hg * f(t, Y); else StepFailure."""
        assert self.matrix is not None
        if hg == 0.0:  # a step of no length (t + h rounded onto a stop): Y = base
            return base, k_guess
        coupled = self.matrix.coupled
        whole = self.matrix.m == base.numel()
        y_stage = base + hg * k_guess
        eta = max(self.eta, 1e-16) ** 0.8
        prev = math.inf
        for it in range(self.options.max_iters):
            residual = torch.add(base, func(t, y_stage), alpha=hg).sub_(y_stage).reshape(-1)
            if whole:
                delta = self._solve(residual, hg).view_as(y_stage)
            else:  # the uncoupled components follow from f (their J columns are zero)
                delta = residual.clone()
                delta[coupled] = self._solve(residual[coupled], hg)
                delta = delta.view_as(y_stage)
            y_stage = y_stage + delta
            size = scale(delta.detach())
            if not math.isfinite(size):
                break
            if it > 0:
                rate = size / prev if prev > 0 else 0.0
                if rate >= 1.0:
                    break
                eta = rate / (1.0 - rate)
                if rate > SLOW_RATE:
                    self.refresh = True
            if eta * size <= KAPPA or size == 0.0:
                self.eta = eta
                return y_stage, (y_stage - base) / hg
            prev = size
        self.eta = 1.0
        raise StepFailure("Newton iterations did not converge")

    def _solve(self, r: Tensor, hg: float) -> Tensor:
        assert self.matrix is not None
        done = self.matrix.factorizations
        x = self.matrix.solve(r, hg)
        if self.matrix.factorizations > done:
            self.counter.newton_work(factorizations=self.matrix.factorizations - done)
        return x
