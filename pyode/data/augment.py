"""Training-time augmentation on tensors, vectorised over the batch and kept on its device."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_crop(batch: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad each (C, H, W) image by `padding` and crop back to H×W at a random offset.

    Equivalent to shifting every image by an independent random (dy, dx) in [-padding, padding]
    with zeros filling the uncovered border. Offsets are drawn from `generator` (on its own device)
    and moved to the batch's device; the crop is two gathers, no per-image Python loop.
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if batch.dim() != 4:
        raise ValueError(f"expected a (N, C, H, W) batch, got shape {tuple(batch.shape)}")
    if padding == 0 or batch.shape[0] == 0:
        return batch.clone()
    n, c, h, w = batch.shape
    padded = F.pad(batch, (padding, padding, padding, padding))
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator,
                            device=generator.device)
    offsets = offsets.to(batch.device)
    rows = offsets[0][:, None] + torch.arange(h, device=batch.device)[None, :]  # (n, h)
    cols = offsets[1][:, None] + torch.arange(w, device=batch.device)[None, :]  # (n, w)
    # gather rows, then columns, of the padded images
    index_rows = rows[:, None, :, None].expand(n, c, h, padded.shape[3])
    picked = torch.gather(padded, 2, index_rows)
    index_cols = cols[:, None, None, :].expand(n, c, h, w)
    return torch.gather(picked, 3, index_cols)
