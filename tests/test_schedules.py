"""Learning-rate schedules: the rate at given steps, and the checks of their arguments."""

import math

import numpy as np
import pytest

from mlp.base import Parameter
from mlp.optim import SGD, Adam
from mlp.schedules import (
    CosineAnnealing,
    ExponentialDecay,
    InverseScaling,
    LinearWarmup,
    StepDecay,
)


def optimizer(lr=0.1, kind=SGD):
    return kind([Parameter("w", np.zeros(2), np.zeros(2), True)], lr=lr)


def test_schedules():
    opt = optimizer()
    sched = StepDecay(opt, step_size=2, gamma=0.5)
    assert [sched.step() for _ in range(4)] == pytest.approx([0.1, 0.05, 0.05, 0.025])
    assert opt.lr == pytest.approx(0.025)

    opt = optimizer()
    sched = InverseScaling(opt, power_t=0.5)
    assert [sched.step() for _ in range(3)] == pytest.approx([0.1 / 2**0.5, 0.1 / 3**0.5, 0.05])

    opt = optimizer()
    sched = ExponentialDecay(opt, gamma=0.9)
    assert [sched.step() for _ in range(2)] == pytest.approx([0.09, 0.081])
    with pytest.raises(ValueError, match="step_size must be a positive integer"):
        StepDecay(opt, step_size=0)
    with pytest.raises(ValueError, match="gamma must be in"):
        ExponentialDecay(opt, gamma=1.5)


def test_cosine_annealing_follows_half_a_cosine_then_stays_at_the_floor():
    opt = optimizer(lr=0.1)
    sched = CosineAnnealing(opt, T=4, eta_min=0.01)
    rates = [sched.step() for _ in range(6)]
    expected = [0.01 + 0.09 * (1 + math.cos(math.pi * t / 4)) / 2 for t in (1, 2, 3)]
    assert rates == pytest.approx(expected + [0.01, 0.01, 0.01], rel=1e-15)
    assert rates[1] == pytest.approx(0.055, rel=1e-15)  # half way: the mean of the two rates
    assert opt.lr == 0.01
    assert sched.lr_at(0) == 0.1
    with pytest.raises(ValueError, match=r"eta_min must be in \[0.0, 0.1\]"):
        CosineAnnealing(optimizer(lr=0.1), T=4, eta_min=0.2)
    with pytest.raises(ValueError, match="T must be a positive integer"):
        CosineAnnealing(opt, T=0)


def test_linear_warmup_ramps_up_then_hands_over():
    opt = optimizer(lr=0.4, kind=Adam)
    sched = LinearWarmup(opt, warmup_steps=3)
    assert opt.lr == pytest.approx(0.1)  # the first step is already taken at ε₀ / (W + 1)
    assert [sched.step() for _ in range(4)] == pytest.approx([0.2, 0.3, 0.4, 0.4], rel=1e-15)

    opt = optimizer(lr=0.4)
    after = StepDecay(opt, step_size=2, gamma=0.5)
    sched = LinearWarmup(opt, warmup_steps=3, after=after)
    assert [sched.step() for _ in range(7)] == pytest.approx(
        [0.2, 0.3, 0.4, 0.4, 0.2, 0.2, 0.1], rel=1e-15)
    assert after.t == 4  # the schedule after the warm-up counts its own steps


def test_linear_warmup_refuses_a_schedule_of_another_optimizer():
    opt = optimizer()
    with pytest.raises(ValueError, match="same optimizer"):
        LinearWarmup(opt, 2, after=ExponentialDecay(optimizer()))
    with pytest.raises(ValueError, match="warmup_steps must be a positive integer"):
        LinearWarmup(opt, True)
    with pytest.raises(TypeError, match="expected an Optimizer, got list"):
        InverseScaling([])
