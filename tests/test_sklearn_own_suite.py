"""scikit-learn's own MLP test module, run against vecprop.sklearn's estimators.

The installed ``sklearn/neural_network/tests/test_mlp.py`` is loaded as a fresh module (nothing is
copied into this repository) and its names ``MLPClassifier`` and ``MLPRegressor`` are bound to
vecprop's before its tests are collected here. Only tests of scikit-learn's private internals are
skipped, each with its reason below; every other test, including any a newer scikit-learn adds,
runs as written. A skipped name that no longer exists fails the run, so the list cannot go stale.
"""
from __future__ import annotations

import importlib.util
import inspect
import os
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
import sklearn.neural_network  # noqa: E402
import sklearn.neural_network.tests  # noqa: E402

from vecprop import sklearn as ours  # noqa: E402

BOUND = ("MLPClassifier", "MLPRegressor")
pytestmark = pytest.mark.usefixtures("one_blas_thread")  # scikit-learn's conftest limits BLAS threads too

PRIVATE = {
    "test_fit": "builds scikit-learn's private training state by hand (_coef_velocity, _intercept_velocity, "
                "_coef_grads, learning_rate_) and assigns list items of coefs_, its storage; the same "
                "hand-worked example runs through the public API in test_sklearn_dropin.py::test_hand_worked_sgd_step",
    "test_gradient": "calls scikit-learn's private _loss_grad_lbfgs; vecprop's gradients are checked against "
                     "central differences and PyTorch in test_gradients.py and test_torch_parity.py, and "
                     "through the estimators in test_sklearn_dropin.py::test_estimator_gradients_match_differences",
}


def _load_suite():
    """A fresh copy of the installed module, with the estimators bound to vecprop's."""
    path = Path(sklearn.neural_network.tests.__file__).parent / "test_mlp.py"
    spec = importlib.util.spec_from_file_location("vecprop_sklearn_test_mlp", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name in BOUND:
        assert getattr(module, name) is getattr(sklearn.neural_network, name), f"test_mlp no longer imports {name}"
        setattr(module, name, getattr(ours, name))
    return module


_suite = _load_suite()
SKLEARN_TESTS = sorted(name for name, obj in vars(_suite).items()
                       if name.startswith("test_") and inspect.isfunction(obj))

for _name in SKLEARN_TESTS:
    _test = getattr(_suite, _name)
    if _name in PRIVATE:
        _test = pytest.mark.skip(reason=f"scikit-learn's private internals: {PRIVATE[_name]}")(_test)
    globals()[_name] = _test


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """scikit-learn's conftest fixture ``global_random_seed``: 42, or the seeds SKLEARN_TESTS_GLOBAL_RANDOM_SEED
    names, as scikit-learn reads it ("all" for 0-99, a range "0-9", or one seed)."""
    if "global_random_seed" in metafunc.fixturenames:
        spec = os.environ.get("SKLEARN_TESTS_GLOBAL_RANDOM_SEED")
        if spec is None:
            seeds = [42]
        elif spec == "all":
            seeds = list(range(100))
        elif "-" in spec:
            start, stop = spec.split("-")
            seeds = list(range(int(start), int(stop) + 1))
        else:
            seeds = [int(spec)]
        metafunc.parametrize("global_random_seed", seeds)


def test_suite_is_bound_and_skips_only_existing_names() -> None:
    """The estimators the module's tests use are vecprop's; every skipped name still exists."""
    assert all(getattr(_suite, name) is getattr(ours, name) for name in BOUND)
    stale = sorted(set(PRIVATE) - set(SKLEARN_TESTS))
    assert not stale, f"scikit-learn's test_mlp.py no longer has {stale}: update PRIVATE"
    other = [name for name, obj in vars(_suite).items()
             if inspect.isclass(obj) and obj.__module__.startswith("sklearn.neural_network")]
    assert not other, f"test_mlp.py uses other scikit-learn MLP classes {other}: bind or skip them"
    assert SKLEARN_TESTS, f"no tests found in {_suite.__file__}"
