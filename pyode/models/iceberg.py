"""Iceberg-versus-ship classifiers for 3×75×75 SAR chips; each emits one logit (label 1 = iceberg).

`resnet` follows the shape of the popular Keras kernels of the Statoil/C-CORE challenge: a
conv / norm / ELU / max-pool / dropout stem, two residual blocks, a convolutional tower, global
pooling and a dense head, sized to train in about a minute on two CPU cores. `odenet` keeps the
stem and head and replaces the residual blocks with one ODE block whose dynamics use GroupNorm.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from pyode.models.layers import ConvODEFunc, PreActBlock, ode_block

STEM = (16, 32)
TOWER = 64
INPUT_SHAPE = (3, 75, 75)  # what every builder here takes (after the batch dimension)
OUTPUTS = 1  # one logit: iceberg or ship


def mlp(hidden: int = 128, depth: int = 4, in_features: int = math.prod(INPUT_SHAPE)) -> nn.Module:
    """flatten → 4 × Dense(128, ReLU) → one logit."""
    layers: list[nn.Module] = [nn.Flatten()]
    width = in_features
    for _ in range(depth):
        layers += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
        width = hidden
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


def stem(dropout: float = 0.1) -> nn.Sequential:
    """3×75×75 → 32×18×18 by two conv-norm-ELU-maxpool stages, then dropout."""
    c1, c2 = STEM
    return nn.Sequential(
        nn.Conv2d(3, c1, 3, padding=1), nn.BatchNorm2d(c1), nn.ELU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1), nn.BatchNorm2d(c2), nn.ELU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout(dropout),
    )


class GlobalPool(nn.Module):
    """Concatenated global average and max pooling: (N, C, H, W) → (N, 2C)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)


def tower_and_head(dropout: float = 0.3) -> nn.Sequential:
    """32×18×18 → conv tower (64×9×9) → global pooling → dense head → one logit."""
    c2 = STEM[1]
    return nn.Sequential(
        nn.Conv2d(c2, TOWER, 3, padding=1), nn.BatchNorm2d(TOWER), nn.ELU(inplace=True),
        nn.MaxPool2d(2),
        GlobalPool(),
        nn.Linear(2 * TOWER, 64), nn.ELU(inplace=True), nn.Dropout(dropout),
        nn.Linear(64, 1),
    )


def resnet(n_blocks: int = 2) -> nn.Module:
    width = STEM[1]
    return nn.Sequential(stem(), *(PreActBlock(width, nn.ELU) for _ in range(n_blocks)),
                         tower_and_head())


def odenet(solver: dict[str, Any]) -> nn.Module:
    """Stem, one ODE block (GroupNorm-ELU dynamics with time channels), tower and head."""
    return nn.Sequential(stem(), ode_block(ConvODEFunc(STEM[1], nn.ELU), solver),
                         tower_and_head())
