"""DIGITS' learning-rate policies, as functions of the percent of training done."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Each policy and its title on the form (the form's list comes from here).
POLICIES = {
    "fixed": "Fixed",
    "step": "Step down",
    "multistep": "Step down (arbitrary steps)",
    "exp": "Exponential decay",
    "inv": "Inverse decay",
    "poly": "Polynomial decay",
    "sigmoid": "Sigmoid decay",
}


@dataclass(frozen=True)
class LRPolicy:
    """A policy and its parameters; `factor(p)` multiplies the base rate at p percent done."""

    name: str = "step"
    step: float = 33.0  # lr_step_size, percent
    gamma: float = 0.1  # lr_step_gamma / lr_exp_gamma / lr_inv_gamma / lr_sigmoid_gamma
    power: float = 0.5  # lr_inv_power / lr_poly_power
    steps: tuple[float, ...] = (50.0, 85.0)  # lr_multistep_values, percent

    def factor(self, percent: float) -> float:
        return _FORMULAS[self.name](self, percent)

    def rate(self, base_lr: float, percent: float) -> float:
        return base_lr * self.factor(percent)


_FORMULAS: dict[str, Callable[[LRPolicy, float], float]] = {
    "fixed": lambda p, x: 1.0,
    "step": lambda p, x: p.gamma ** math.floor(x / p.step),
    "multistep": lambda p, x: p.gamma ** sum(1 for s in p.steps if x >= s),
    "exp": lambda p, x: p.gamma**x,
    "inv": lambda p, x: (1 + p.gamma * x) ** (-p.power),
    "poly": lambda p, x: max(0.0, 1 - x / 100.0) ** p.power,
    "sigmoid": lambda p, x: 1 / (1 + math.exp(min(700.0, p.gamma * (x - p.step)))),
}


def curve(policy: LRPolicy, base_lr: float, points: int = 101) -> tuple[list[float], list[float]]:
    """The rate over training, for the form's preview chart: (percent, rate) pairs."""
    xs = [100.0 * i / (points - 1) for i in range(points)]
    return xs, [policy.rate(base_lr, x) for x in xs]
