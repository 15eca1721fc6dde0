"""The container every consumer of the data layer receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class DatasetBundle:
    """Normalised tensors for one data set, split into train / test.

    Images are float32 (N, C, H, W), labels int64 (N,). For iceberg `n_classes` is 2 and models emit
    one logit (label 1 = iceberg).
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    n_classes: int
    input_shape: tuple[int, int, int]
    data_source: str
    description: str
    augment_padding: int  # zero padding of the training loop's random crops (pixels per side)
    extras: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of examples per split."""
        return {"train": len(self.train_y), "test": len(self.test_y)}

    def class_balance(self) -> dict[str, list[int]]:
        """Examples per class for each split."""
        return {name: np.bincount(y.numpy(), minlength=self.n_classes).tolist()
                for name, y in (("train", self.train_y), ("test", self.test_y))}
