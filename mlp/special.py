"""scipy.special's functions that layers and losses use, each imported on its first call.

scipy.special takes longer to import than numpy itself (it brings scipy's array-API layer
with it), and a network of ReLU layers under a softmax loss never calls it: the library and
the ``mlp`` command start without it.
"""

from __future__ import annotations

__all__ = ["erfc", "expit", "xlogy"]


def expit(X):
    """The logistic sigmoid ``1 / (1 + exp(−X))``, elementwise, without overflow."""
    from scipy.special import expit

    return expit(X)


def erfc(X):
    """The complementary error function ``1 − erf(X)``, elementwise, precise in both tails."""
    from scipy.special import erfc

    return erfc(X)


def xlogy(X, Y):
    """``X·log(Y)``, elementwise, and 0 where ``X`` is 0 (also where ``Y`` is 0)."""
    from scipy.special import xlogy

    return xlogy(X, Y)
