"""The four MNIST models of Chen et al. (2018), Table 1, with the paper's parameter counts.

`mlp` is the 1-hidden-layer baseline (0.24 M); `resnet`, `odenet` and `rknet` share the
downsampling stem and the classification head and differ only in the feature extractor: six
residual blocks (0.60 M) or one ODE block (0.22 M), trained with the adjoint (`odenet`) or by
back-propagating through a Runge–Kutta solver (`rknet`). `noblock` is the ablation with nothing
between stem and head: what the ODE block adds beyond them.
"""

from __future__ import annotations

import math
from typing import Any

from torch import nn

from pyode.models.layers import ConvODEFunc, PreActBlock, group_norm, ode_block

WIDTH = 64
INPUT_SHAPE = (1, 28, 28)  # what every builder here takes (after the batch dimension)
OUTPUTS = 10  # one logit per digit


def mlp(hidden: int = 300, n_classes: int = OUTPUTS) -> nn.Module:
    """784 → 300 (ReLU) → 10."""
    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(INPUT_SHAPE), hidden),
                         nn.ReLU(inplace=True), nn.Linear(hidden, n_classes))


def downsampling(width: int = WIDTH) -> nn.Sequential:
    """28×28×1 → 7×7×width: a 3×3 conv, then two 4×4 stride-2 convs."""
    return nn.Sequential(
        nn.Conv2d(1, width, 3, 1),
        group_norm(width), nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 4, 2, 1),
        group_norm(width), nn.ReLU(inplace=True),
        nn.Conv2d(width, width, 4, 2, 1),
    )


def head(width: int = WIDTH, n_classes: int = 10) -> nn.Sequential:
    """GroupNorm, ReLU, global average pooling, linear classifier."""
    return nn.Sequential(group_norm(width), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(width, n_classes))


def resnet(n_blocks: int = 6, width: int = WIDTH, n_classes: int = 10) -> nn.Module:
    return nn.Sequential(downsampling(width), *(PreActBlock(width) for _ in range(n_blocks)),
                         head(width, n_classes))


def odenet(solver: dict[str, Any], width: int = WIDTH, n_classes: int = 10) -> nn.Module:
    """Downsampling, one ODE block integrated on [0, 1], head."""
    return nn.Sequential(downsampling(width), ode_block(ConvODEFunc(width), solver),
                         head(width, n_classes))


def noblock(width: int = WIDTH, n_classes: int = 10) -> nn.Module:
    """Downsampling, then the head: odenet without its ODE block (no solver settings)."""
    return nn.Sequential(downsampling(width), head(width, n_classes))


def rknet(solver: dict[str, Any], width: int = WIDTH, n_classes: int = 10) -> nn.Module:
    """The ODE-Net architecture trained by direct back-propagation through the solver."""
    return odenet({**solver, "adjoint": False}, width, n_classes)
