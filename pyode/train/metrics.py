"""What training measures: the loss and correct count of a batch, a split's loss and accuracy,
the solver's evaluation counts, the memory the ODE blocks keep for the backward pass, and the peak
memory of the run."""

from __future__ import annotations

import contextlib
import resource
import sys
import weakref
from collections.abc import Callable, Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from pyode.solver.stats import SolverStats

EVAL_BATCH = 500


def evaluation_counts(modules: Iterable[nn.Module]) -> SolverStats:
    """The function evaluations of the solves of `modules` (ODE blocks, or any module keeping a
    SolverStats in `.stats`), summed: an ODE block's count its most recent call."""
    total = SolverStats()
    for module in modules:
        total.nfe_forward += int(module.stats.nfe_forward)
        total.nfe_backward += int(module.stats.nfe_backward)
    return total


class Objective:
    """Loss and number of correct predictions: softmax cross-entropy, or one logit + BCE."""

    def __init__(self, n_classes: int) -> None:
        self.binary = n_classes == 2

    def __call__(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.binary:
            logits = logits.squeeze(1)
            loss = F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype))
            correct = ((logits > 0).long() == y).sum()
        else:
            loss = F.cross_entropy(logits, y)
            correct = (logits.argmax(dim=1) == y).sum()
        return loss, correct


def evaluate(model: nn.Module, objective: Objective, x: torch.Tensor, y: torch.Tensor,
             after_batch: Callable[[], None] | None = None) -> tuple[float, float]:
    """Mean loss and accuracy over a split, in batches of EVAL_BATCH without gradients;
    `after_batch` is called after each batch's forward pass (e.g. to read its evaluations)."""
    model.eval()
    total_loss = torch.zeros((), device=x.device)
    total_correct = torch.zeros((), dtype=torch.long, device=x.device)
    with torch.no_grad():
        for start in range(0, len(y), EVAL_BATCH):
            xb, yb = x[start:start + EVAL_BATCH], y[start:start + EVAL_BATCH]
            loss, correct = objective(model(xb), yb)
            if after_batch is not None:
                after_batch()
            total_loss += loss * len(yb)
            total_correct += correct
    model.train()
    return total_loss.item() / len(y), total_correct.item() / len(y)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in KiB on Linux, bytes on macOS
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (2**20 if sys.platform == "darwin" else 2**10)


class SavedTensors:
    """The tensors autograd saves for the backward pass during the forwards of some modules.

    While a measured forward runs, a pack hook (`torch.autograd.graph.saved_tensors_hooks`) notes
    every tensor autograd saves (values and gradients unchanged). `nbytes()`, read after the
    forward and before the backward, sums the distinct storages still alive (a rejected adaptive
    step's tensors are freed with its graph), leaving out `ignore`'s storages (the parameters,
    which exist anyway). The measure is the memory the graph keeps for the backward pass, the
    same on any device: the adjoint saves its solve's outputs only, back-propagation through a
    solver every stage.
    """

    def __init__(self, ignore: Iterable[torch.Tensor] = ()) -> None:
        self._ignore = list(ignore)
        self._saved: list[weakref.ref[torch.Tensor]] = []

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        # Saved as a detached alias (same storage): handing autograd back a saved output itself
        # would tie it to its own graph in a cycle that outlives the graph.
        alias = tensor.detach()
        self._saved.append(weakref.ref(alias))
        return alias

    @contextlib.contextmanager
    def measuring(self) -> Iterator[None]:
        """Note what autograd saves inside this block (on this thread)."""
        with torch.autograd.graph.saved_tensors_hooks(self._pack, _unpack):
            yield

    def nbytes(self) -> int:
        """Bytes of the distinct storages noted so far and still alive."""
        ignored = {p.untyped_storage().data_ptr() for p in self._ignore}
        sizes: dict[int, int] = {}
        for ref in self._saved:
            tensor = ref()
            if tensor is None or tensor.layout != torch.strided:
                continue
            storage = tensor.untyped_storage()
            if storage.data_ptr() not in ignored:
                sizes[storage.data_ptr()] = storage.nbytes()
        return sum(sizes.values())

    def clear(self) -> None:
        self._saved.clear()


def _unpack(tensor: torch.Tensor) -> torch.Tensor:
    return tensor


@contextlib.contextmanager
def saved_by(modules: Iterable[nn.Module], ignore: Iterable[torch.Tensor] = ()
             ) -> Iterator[SavedTensors]:
    """A SavedTensors measuring every forward of `modules` while this block is open."""
    saved = SavedTensors(ignore)
    open_blocks: list[contextlib.ExitStack] = []

    def enter(*_: object) -> None:
        stack = contextlib.ExitStack()
        stack.enter_context(saved.measuring())
        open_blocks.append(stack)

    def leave(*_: object) -> None:
        open_blocks.pop().close()

    handles = []
    for module in modules:
        handles.append(module.register_forward_pre_hook(enter))
        # always_call: a forward that raises still closes its measurement
        handles.append(module.register_forward_hook(leave, always_call=True))
    try:
        yield saved
    finally:
        for handle in handles:
            handle.remove()
        while open_blocks:
            open_blocks.pop().close()
