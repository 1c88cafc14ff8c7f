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
    assert lectures.main(["--only", "examples"]) == 0
    out = capsys.readouterr().out
    assert "O1 = [0.98 0.62 0.73], I2 = -1.09, O2 = 0.25" in out


def test_cross_entropy_of_a_quarter_quarter_half(lectures):
    c = lectures.cross_entropy_quarter()
    assert c["nll"] == pytest.approx(math.log(4), rel=1e-15)
    assert c["from_logits"] == pytest.approx(math.log(4), rel=1e-15)


def test_two_two_one_scalar_formulas_equal_the_layers(lectures):
    t = lectures.two_two_one()
    for name in ("w°11", "wʰ22"):
        assert t["by_layers"][name] == pytest.approx(t["by_hand"][name], rel=1e-12)
        assert abs(t["by_hand"][name]) > 1e-3  # a real number, not two zeros


def test_sigmoid_gate_step(lectures):
    g = lectures.sigmoid_gate()
    assert round(g["sigma"], 2) == 0.47
    assert round(g["local"], 4) == 0.2491
    assert round(g["dq"], 2) == -0.53
    assert g["dq"] == pytest.approx(-2.128 * 0.47 * 0.53, rel=1e-12)


# -- the lectures' experiments (scripts/lecture_experiments.py) -------------------------------


@pytest.fixture(scope="module")
def experiments(lectures):
    return lectures.experiments


def test_vanishing_gradients(experiments):
    r = experiments.vanishing_gradients()
    sigmoid, relu = r["norms"]["sigmoid"], r["norms"]["relu"]
    assert len(sigmoid) == len(relu) == 10
    # sigmoid: every layer closer to the input gets a smaller gradient, by about σ′ ≈ ¼
    assert all(a < b for a, b in zip(sigmoid, sigmoid[1:], strict=False))
    assert r["first_to_last"]["sigmoid"] < 1e-4
    assert 0.15 < r["shrink_per_layer"]["sigmoid"] < 0.35
    # ReLU with He initialisation: first and last within an order of magnitude
    assert 0.1 < r["first_to_last"]["relu"] < 10
    assert max(relu) / min(relu) < 10


def test_initialisation(experiments):
    r = experiments.initialisation()
    constant, zeros, random = (r["trained"][k] for k in ("constant", "zeros", "glorot_uniform"))
    # constant: the weights moved, but every hidden unit's column stayed the same
    assert constant["moved"] > 0.1
    assert constant["column_spread"] <= 1e-9 * np.abs(constant["W"]).max()
    # zeros with tanh: no gradient reaches the weights at all
    assert zeros["moved"] == 0.0
    assert np.all(zeros["W"] == 0.0)
    # random: units differ and the network learns Iris
    assert random["column_spread"] > 0.5
    assert random["accuracy"] >= 0.95
    # N(0, 1) with 100 inputs: q ~ N(0, 100), and |q| > 4 for 2Φ(-0.4) = 69% of the units
    assert r["saturated"]["std_normal"] == pytest.approx(0.69, abs=0.02)
    assert r["saturated"]["lecun_normal"] < 1e-3
    assert r["saturated"]["normal"] == 0.0


def test_xor_needs_a_nonlinearity(experiments):
    r = experiments.xor()
    assert not r["separable_all_four"]
    assert r["separable_every_three"]
    assert max(r["linear_correct"]) <= 3
    assert r["relu_correct"] == [4] * 5
    assert r["collapse_error"] <= 1e-12
    np.testing.assert_array_equal(r["hand_set_output"], [0.0, 1.0, 1.0, 0.0])


def test_optimizers_on_a_saddle_and_a_ravine(experiments):
    r = experiments.optimizers_on_surfaces()
    assert r["saddle"]["reached"] == ["Adam", "Nesterov", "momentum"]
    assert r["ravine"]["reached"] == ["Nesterov", "momentum"]
    assert r["saddle"]["distance"]["SGD"] > 0.1  # still near the saddle after 150 steps
    assert r["ravine"]["distance"]["SGD"] > 1.0  # crawling along the valley floor


def test_dropout_none_a_bit_too_much(experiments):
    r = experiments.dropout()
    train = [r[p]["train"] for p in (0.0, 0.2, 0.5, 0.8)]
    test = [r[p]["test"] for p in (0.0, 0.2, 0.5, 0.8)]
    # none: the 15% flipped labels are learned too, and the clean test set pays for it
    assert train[0] >= 0.95
    # a bit: worse on the noisy training labels, better on the clean test points
    assert min(test[1], test[2]) > test[0] + 0.03
    # too much: cannot even fit the checkerboard
    assert train[3] < 0.85
    assert test[3] < test[0] - 0.05


def test_experiment_figures(experiments, lectures, tmp_path):
    assert lectures.main(["--plot", str(tmp_path), "--only", "xor"]) == 0
    png = (tmp_path / "xor.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (900, 400)
