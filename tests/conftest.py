"""Shared test set-up: numpy floating-point errors raise instead of warning; one BLAS thread and iris on request."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def numpy_errors_raise() -> Iterator[None]:
    """Overflow, invalid operations (0/0, inf - inf) and division by zero raise FloatingPointError.

    Underflow is ignored on purpose: the stable forms exp(-|z|) (sigmoid, softplus, fused
    losses) and exp(z - max z) (softmax) underflow to exactly 0 for large |z|, which is the
    right answer, not a silent error.
    """
    old = np.seterr(all="raise", under="ignore")
    try:
        yield
    finally:
        np.seterr(**old)


@pytest.fixture
def one_blas_thread() -> Iterator[None]:
    """Tiny matrices: one BLAS thread is faster (threads only contend on a busy machine) and rounds the same every run."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def iris() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's iris, features standardised: X (150, 4) rows, y (150,) labels 0..2."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y
