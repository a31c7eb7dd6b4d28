"""DIGITS' solvers as torch optimizers, from the form's plain values."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from digits.models.fields import SOLVERS

MOMENTUM = 0.9  # DIGITS' (Caffe's) momentum for SGD and Nesterov
WEIGHT_DECAY = 1e-4


def create_optimizer(
    solver: str,
    parameters: Iterable[torch.nn.Parameter],
    lr: float,
    weight_decay: float = WEIGHT_DECAY,
) -> torch.optim.Optimizer:
    if solver == "SGD":
        return torch.optim.SGD(parameters, lr, momentum=MOMENTUM, weight_decay=weight_decay)
    if solver == "NESTEROV":
        return torch.optim.SGD(
            parameters, lr, momentum=MOMENTUM, nesterov=True, weight_decay=weight_decay
        )
    if solver == "ADAGRAD":
        return torch.optim.Adagrad(parameters, lr, weight_decay=weight_decay)
    if solver == "RMSPROP":
        return torch.optim.RMSprop(parameters, lr, alpha=0.99, weight_decay=weight_decay)
    if solver == "ADADELTA":
        return torch.optim.Adadelta(parameters, lr, rho=0.95, weight_decay=weight_decay)
    if solver == "ADAM":
        return torch.optim.Adam(parameters, lr, weight_decay=weight_decay)
    if solver == "ADAMW":
        return torch.optim.AdamW(parameters, lr, weight_decay=0.01)
    raise ValueError(f"unknown solver {solver!r}; choose one of {', '.join(SOLVERS)}")
