"""The lectures' worked examples, to the digits the slides print (scripts/lecture_examples.py)."""

import importlib.util
import math
import struct
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "lecture_examples.py"


@pytest.fixture(scope="module")
def lectures():
    spec = importlib.util.spec_from_file_location("lecture_examples", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_computational_graph(lectures):
    g = lectures.computational_graph()
    assert g["q"] == 3.0
    assert g["f"] == -12.0
    assert (g["df/dq"], g["df/dx"], g["df/dy"], g["df/dz"]) == (-4.0, -4.0, -4.0, 3.0)


def test_sigmoid_neuron_and_one_step(lectures):
    n = lectures.sigmoid_neuron()
    assert round(n["f"], 4) == 0.7311
    # the slide prints the gradient as [-0.27, 0.27, 0.54]
    assert [round(g, 2) for g in n["gradient"]] == [-0.27, 0.27, 0.54]
    s = 1 / (1 + math.exp(-1.0))  # σ(w·x) with w·x = -3 + 2·(-1) + (-3)·(-2) = 1
    np.testing.assert_allclose(n["gradient"], [s - 1, -(s - 1), -2 * (s - 1)], rtol=1e-14)
    # The slide prints w = [-2.9973, 1.9973, -3.00054] after the step with eta = 0.001 and
    # then f = 0.7323. Its first two entries moved by 0.0027, ten times 0.001·0.27; the third
    # is right. The step it describes gives:
    assert [round(w, 5) for w in n["w_new"]] == [-2.99973, 1.99973, -3.00054]
    # and f = σ(1.00162) = 0.7314 (the slide's 0.7323 follows from its mistyped weights)
    assert round(n["f_new"], 4) == 0.7314
    assert n["f_new"] > n["f"]  # "indeed getting closer to 1"


def test_squared_error_both_modes(lectures):
    s = lectures.squared_error(w=0.5, x=2.0, y=3.0)
    assert s["L"] == 0.5 * (3 - 0.5 * 2) ** 2
    assert s["dL/dw"] == s["dL/dw forward"] == -(3 - 0.5 * 2) * 2


def test_sin_cos_in_one_forward_pass(lectures):
    r = lectures.sin_cos(w0=0.5, w1=2.0, x=1.5)
    q = 2.0 * 1.5 + 0.5
    expected = (1.5 * math.cos(q), -1.5 * math.sin(q))
    np.testing.assert_allclose(r["forward"], expected, rtol=1e-15)
    np.testing.assert_allclose(r["reverse"], expected, rtol=1e-15)


def test_four_three_one_forward_pass(lectures):
    f = lectures.four_three_one()
    assert list(np.round(f["O1"], 2)) == [0.98, 0.62, 0.73]
    assert round(f["I2"], 2) == -1.09
    assert round(f["O2"], 2) == 0.25


def test_iris_two_layer_model(lectures, tmp_path):
    r = lectures.iris_two_layer(iterations=3000)
    assert r["backward_vs_lecture"] < 1e-14  # the layers compute the lecture's formulas
    assert r["check_grad"] < 1e-5
    assert r["loss_end"] < 0.2 * r["loss_start"]
    assert r["accuracy"] >= 0.95
    lectures.plot_iris(r, tmp_path / "iris.png")
    png = (tmp_path / "iris.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (500, 400)


def test_script_runs(lectures, capsys):
    assert lectures.main([]) == 0
    out = capsys.readouterr().out
    assert "O1 = [0.98 0.62 0.73], I2 = -1.09, O2 = 0.25" in out
