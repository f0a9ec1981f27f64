"""One source of names: registries, shared validators, A[L] -> labels, loss -> output activation, config fields."""
from __future__ import annotations

import argparse
import dataclasses
import math

import numpy as np
import pytest

from vecprop._checks import check_choice, check_int, check_real
from vecprop.activations import ACTIVATIONS
from vecprop.cli import config as C
from vecprop.datasets.registry import SETS
from vecprop.engines import ENGINES
from vecprop.initializers import INITIALIZERS
from vecprop.losses import LOSSES, output_activation
from vecprop.metrics import TASK_LOSSES, labels, n_correct
from vecprop.optimizers import OPTIMIZERS, default_lr, get_optimizer
from vecprop.schedules import SCHEDULES


@pytest.mark.parametrize("registry, typo, suggestion", [
    (ACTIVATIONS, "rleu", "relu"), (LOSSES, "cross_entropie", "cross_entropy"), (INITIALIZERS, "he_norml", "he_normal"),
    (OPTIMIZERS, "adm", "adam"), (SCHEDULES, "cosin", "cosine"), (ENGINES, "fats", "fast"), (SETS, "digit", "digits"),
])
def test_every_kind_of_name_is_looked_up_the_same_way(registry, typo, suggestion):
    with pytest.raises(ValueError, match=rf"^unknown {registry.kind} '{typo}'; valid names: .*\(did you mean "
                                         rf"'{suggestion}'\?\)$"):
        registry.lookup(typo)
    assert registry.lookup(suggestion) is registry[suggestion]


def test_build_names_the_kind_and_the_bad_parameters():
    with pytest.raises(ValueError, match=r"bad parameters for optimizer 'sgd': \{'betas': \(0.9, 0.99\)\}"):
        get_optimizer("sgd", betas=(0.9, 0.99))
    assert ACTIVATIONS.build({"name": "elu", "alpha": 0.5}).alpha == 0.5


@pytest.mark.parametrize("call, message", [
    (lambda: check_real("lr", -0.1, 0.0), "lr must be a finite number >= 0; got -0.1"),
    (lambda: check_real("eps", 0.0, 0.0, lo_open=True), "eps must be a finite number > 0; got 0.0"),
    (lambda: check_real("p", 1.0, 0.0, 1.0, hi_open=True), r"p must be in \[0, 1\); got 1.0"),
    (lambda: check_real("x", math.inf), "x must be a finite number; got inf"),
    (lambda: check_real("x", True), "x must be a finite number; got True"),
    (lambda: check_real("x", "1"), "x must be a finite number; got '1'"),
    (lambda: check_int("epochs", -1, 0), "epochs must be a non-negative integer; got -1"),
    (lambda: check_int("n", 2.0, 1), "n must be a positive integer; got 2.0"),
    (lambda: check_int("k", 1, 2, hint=" (two at least)"), r"k must be an integer >= 2 \(two at least\); got 1"),
    (lambda: check_choice("mode", "mean", ("min", "max")), "mode must be one of min, max; got 'mean'"),
])
def test_shared_validators_name_the_setting_the_rule_and_the_value(call, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        call()


def test_validators_return_the_value_as_its_type():
    assert check_real("x", np.float32(0.5), 0.0) == 0.5 and type(check_real("x", 1, 0.0)) is float
    assert check_int("n", np.int64(3), 1) == 3 and type(check_int("n", np.int64(3), 1)) is int
    assert check_choice("mode", "min", ("min", "max")) == "min"


def test_labels_threshold_a_sigmoid_strictly_like_scikit_learn():
    # one sigmoid unit: class 1 only above 0.5; an output of exactly 0.5 is class 0 (LabelBinarizer)
    np.testing.assert_array_equal(labels(np.array([[0.2, 0.5, 0.5000001, 0.9]]), "binary"), [0, 0, 1, 1])
    A = np.array([[0.1, 0.7], [0.6, 0.5], [0.3, 0.2]])  # (n_L=3, m=2)
    np.testing.assert_array_equal(labels(A, "multiclass"), [1, 0])
    np.testing.assert_array_equal(labels(A, "multilabel"), [[0, 1, 0], [1, 0, 0]])  # (m, n_L) rows
    with pytest.raises(ValueError, match="labels are for classification"):
        labels(A, "regression")
    Y = np.array([[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # example 1: class 0, but labels [1, 1, 0]
    assert n_correct(A, Y, "multiclass") == 2 and n_correct(A, Y, "multilabel") == 1
    assert n_correct(A, Y, "multilabel", sample_weight=np.array([0.25, 3.0])) == 0.25


def test_the_output_activation_comes_from_the_loss():
    assert {loss: output_activation(loss) for loss in LOSSES} == {
        "squared_error": "identity", "binary_cross_entropy": "sigmoid", "cross_entropy": "softmax",
        "absolute_error": "identity", "huber": "identity", "poisson": "exp"}
    assert {task: output_activation(loss) for task, loss in TASK_LOSSES.items()} == {
        "multiclass": "softmax", "binary": "sigmoid", "multilabel": "sigmoid", "regression": "identity"}


def test_config_fields_are_declared_once_and_the_flags_come_from_them():
    parser = argparse.ArgumentParser()
    groups = {section: parser.add_argument_group(section) for section in C.SECTIONS}
    C.add_flags(groups)
    flags = {a.dest: a for a in parser._actions if a.dest != "help"}
    fields = {f.name: f for f in dataclasses.fields(C.TrainConfig)}
    assert set(flags) == {n for n, f in fields.items() if f.metadata["flag"]}
    assert set(fields) - set(flags) == {"schedule_options", "plots"}  # --schedule-arg KEY=VALUE, --no-plots
    assert {n for keys in C.SECTIONS.values() for n in keys.values()} == set(fields)
    assert C.SECTIONS["data"]["name"] == "data"  # [data] name = "digits" sets the data field
    assert flags["engine"].choices == tuple(ENGINES) and "(default fast)" in flags["engine"].help
    assert "adam 0.001" in flags["lr"].help and "lbfgs" in flags["optimizer"].help
    args = parser.parse_args(["--hidden", "8,4", "--lr", "0.5", "--init", "he_normal"])
    assert (args.hidden, args.lr, args.init, args.epochs) == ((8, 4), 0.5, ("he_normal",), None)


@pytest.mark.parametrize("optimizer", [*OPTIMIZERS, "lbfgs"])
def test_the_cli_takes_each_optimizers_own_defaults(optimizer):
    cfg = C.resolve(C.TrainConfig(data="xor", optimizer=optimizer), "binary")
    expected = (1.0, 0.0) if optimizer == "lbfgs" else (default_lr(optimizer), get_optimizer(optimizer).weight_decay)
    assert (cfg.lr, cfg.weight_decay) == expected
    assert (cfg.loss, cfg.output_activation) == ("binary_cross_entropy", "sigmoid")
