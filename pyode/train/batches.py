"""Minibatches of a training split: each epoch a fresh permutation, cut into consecutive batches."""

from __future__ import annotations

import torch


def shuffled_batches(
    n: int,
    batch_size: int,
    generator: torch.Generator,
    *,
    drop_last: bool = False,
    device: torch.device | None = None,
) -> list[torch.Tensor]:
    """One epoch's batches of indices into `n` examples: a permutation drawn from `generator` (on
    the CPU, then moved to `device` once) cut into batches of `batch_size`; the last, shorter batch
    is kept unless `drop_last`."""
    order = torch.randperm(n, generator=generator)
    if device is not None:
        order = order.to(device)
    count = n // batch_size if drop_last else -(-n // batch_size)
    return [order[i * batch_size:(i + 1) * batch_size] for i in range(count)]
