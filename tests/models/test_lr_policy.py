import math

import pytest

from digits.models.lr_policy import LRPolicy, curve

BASE = 0.01


@pytest.mark.parametrize(
    ("policy", "percent", "expected"),
    [
        (LRPolicy("fixed"), 70, BASE),
        (LRPolicy("step", step=33, gamma=0.1), 32.9, BASE),
        (LRPolicy("step", step=33, gamma=0.1), 33, BASE * 0.1),
        (LRPolicy("step", step=33, gamma=0.1), 99, BASE * 0.1**3),
        (LRPolicy("multistep", steps=(50, 85), gamma=0.5), 49, BASE),
        (LRPolicy("multistep", steps=(50, 85), gamma=0.5), 60, BASE * 0.5),
        (LRPolicy("multistep", steps=(50, 85), gamma=0.5), 90, BASE * 0.25),
        (LRPolicy("exp", gamma=0.95), 10, BASE * 0.95**10),
        (LRPolicy("inv", gamma=0.1, power=0.5), 30, BASE * (1 + 0.1 * 30) ** -0.5),
        (LRPolicy("poly", power=3), 40, BASE * (1 - 0.4) ** 3),
        (LRPolicy("poly", power=3), 100, 0.0),
        (LRPolicy("sigmoid", step=50, gamma=0.1), 20, BASE / (1 + math.exp(0.1 * (20 - 50)))),
    ],
)
def test_each_policy_follows_digits_formula(policy, percent, expected):
    assert policy.rate(BASE, percent) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_curve_spans_the_whole_training():
    xs, ys = curve(LRPolicy("step", step=50, gamma=0.5), 1.0, points=5)
    assert xs == [0, 25, 50, 75, 100] and ys == [1.0, 1.0, 0.5, 0.5, 0.25]
