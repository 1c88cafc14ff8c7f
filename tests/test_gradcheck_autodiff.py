"""The autodiff gradient check at the kinks of relu and max."""

import pytest

from mlp import autodiff as ad
from mlp.gradcheck import check_function


def test_max_of_two_arguments_a_hair_apart():
    def f(x, y):
        return ad.maximum(x, y) * 3.0

    assert ad.grad(f)(1.0, 1.0 + 1e-9) == [0.0, 3.0]  # the larger argument takes it all
    report = check_function(f, 1.0, 1.0 + 1e-9)
    assert report.ok, str(report)
    assert report["grad"].one_sided == 2  # a central difference would give 1.5 for both
    assert report.max_error < 1e-9


@pytest.mark.parametrize("point", [1e-9, -1e-9, 0.7])
def test_relu_and_max_near_their_kinks(point):
    def f(x, y):
        return ad.relu(x) * ad.exp(y) + ad.maximum(x, 0.5 * x)

    report = check_function(f, point, 0.3)
    assert report.ok, str(report)
    assert report["grad"].one_sided == (0 if point == 0.7 else 1)
    assert report.max_error < 1e-8


def test_units_exactly_on_kinks_with_different_conventions_are_left_out():
    # at x = 0, relu takes its left slope (0) and max(x, x/2) its first argument's (1): the
    # gradient 1 is right, yet neither one-sided difference (0.5 or e^0.3 + 1) shows it
    def f(x, y):
        return ad.relu(x) * ad.exp(y) + ad.maximum(x, 0.5 * x)

    report = check_function(f, 0.0, 0.3)
    assert report.ok, str(report)
    assert report["grad"].left_out == 1
    assert "1 entry of grad left out" in str(report)
    # one unit exactly on its kink: its convention is checked, and a wrong one fails
    assert check_function(lambda x: ad.relu(x) * 3.0, 0.0)["grad"].one_sided == 1
    assert check_function(lambda x: ad.relu(x) * 3.0, 0.0).ok


def test_a_wrong_slope_at_the_kink_still_fails(monkeypatch):
    value, _ = ad.PRIMITIVES["relu"]
    # takes the inactive side's slope for inputs just above 0
    monkeypatch.setitem(ad.PRIMITIVES, "relu", (value, lambda x, y: 1.0 if x > 1e-6 else 0.0))
    report = check_function(lambda x: ad.relu(x) * 2.0, 1e-9)
    assert not report.ok
    assert report["grad"].one_sided == 1
    assert report.max_error == 1.0


def test_smooth_function_keeps_the_central_difference():
    report = check_function(lambda x, y: ad.sin(x * y) + ad.log(y), 0.3, 2.0)
    assert report.ok, str(report)
    assert not report["grad"].kink
    assert report.max_error < 1e-8
