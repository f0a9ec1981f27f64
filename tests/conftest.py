"""Shared test set-up: numpy floating-point errors raise instead of warning."""
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
