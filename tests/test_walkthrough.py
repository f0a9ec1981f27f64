"""``vecprop.walkthrough`` (one update, step by step) and ``vecprop explain --numbers``, which prints it."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop as vp
from vecprop.cli import main
from vecprop.cli.explain_numbers import matrix, sample_data
from vecprop.optimizers import SGD
from vecprop.walkthrough import UPDATE_RULES, steps, values


def test_steps_run_in_the_order_of_the_derivation():
    net = vp.Network([2, 3, 4, 2], ["tanh", "relu", "softmax"], "cross_entropy", seed=0)
    fused = [s.tag + s.name for s in steps(net)]
    assert fused[:7] == ["(1)Z[1]", "(1)A[1]", "(1)Z[2]", "(1)A[2]", "(1)Z[3]", "(1)A[3]", "(2)J"]
    assert fused[7:12] == ["(C)dZ[3]", "(A)dTheta[3]", "(B)db[3]", "(D)dA[2]", "(C)dZ[2]"]
    assert fused[-6:] == ["updateTheta_new[1]", "updateb_new[1]", "updateTheta_new[2]", "updateb_new[2]",
                          "updateTheta_new[3]", "updateb_new[3]"]
    assert "(D)dA[0]" not in fused  # dA[0] is never computed
    unfused = [s.tag + s.name for s in steps(net, fused=False)]
    assert unfused[7:9] == ["(5)dA[3]", "(C)dZ[3]"] and len(unfused) == len(fused) + 1
    assert "A[3] * (dA[3] - sum_i A[3] * dA[3])" in steps(net, fused=False)[8].equation  # softmax's (C)


def test_steps_name_dropout_l2_and_the_optimizer():
    net = vp.Network([2, 3, 1], ["relu", "sigmoid"], "binary_cross_entropy", seed=0, dropout=0.25)
    eqs = {s.name: s.equation for s in steps(net, l2=0.5, optimizer="adam")}
    assert eqs["A[1]"] == "A[1] = relu(Z[1]) * M[1]"
    assert eqs["dZ[1]"] == "dZ[1] = (dA[1] * M[1]) * relu'(Z[1])"
    assert eqs["dTheta[1]"].endswith("+ 0.5/m Theta[1]") and "0.5/(2m)" in eqs["J"]
    assert eqs["Theta_new[2]"] == UPDATE_RULES["adam"].format(P="Theta[2]")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        steps(net, optimizer="lbfgs")


@pytest.mark.parametrize("fused", [True, False])
def test_values_hold_every_step_of_the_cache(fused):
    net = vp.Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", seed=1, dtype="float64")
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((2, 4)), vp.one_hot(np.array([0, 1, 1, 0]), 2, dtype="float64")
    grads = net.gradients(X, Y, fused=fused)
    J = net.cached_cost(Y)
    v = values(net, grads, J)
    Theta_used = net.params[0][0].copy()
    SGD(lr=0.1).step([net.flat], [net.flatten(grads)])
    v.update(values(net, grads, J, new_params=net.params))
    for step in steps(net, fused=fused):
        if step.tag != "update":
            assert step.name in v, step.name
    assert v["J"] == J and v["Z[2]"] is net.cache.Z[2] and v["dTheta[1]"] is grads[0][0]
    assert ("dA[2]" in v) == (not fused)
    np.testing.assert_array_equal(v["Theta_new[1]"], Theta_used - 0.1 * grads[0][0])


def test_explain_numbers_prints_every_matrix_of_one_update(capsys):
    assert main(["explain", "--layers", "2,3,2", "--activations", "tanh", "--numbers", "--batch", "2",
                 "--seed", "4", "--lr", "0.5"]) == 0
    out = capsys.readouterr().out
    net = vp.Network([2, 3, 2], ["tanh", "softmax"], "cross_entropy", seed=4, dtype="float64")
    X, Y = sample_data(net, "cross_entropy", 2, np.random.default_rng(4))
    grads = net.gradients(X, Y, fused=False)
    c, J = net.cache, net.cached_cost(Y)
    for M in (X, Y, c.Z[1], c.A[1], c.Z[2], c.A[2], c.dA[2], c.dZ[2], c.dA[1], c.dZ[1], grads[0][0], grads[1][1]):
        assert matrix(M, 9) in out or matrix(M) in out, M
    assert f"= {J:.6f}" in out and "PASS" in out
    for tag in ("(1)", "(2)", "(5)", "(C)", "(A)", "(B)", "(D)", "update"):
        assert f"  {tag} " in out, tag
    assert "eq. (10)" in out and "the fused shortcut dZ[2] = A[2] - Y gives the same matrix" in out
    SGD(lr=0.5).step([net.flat], [net.flatten(grads)])
    assert matrix(net.params[0][0], 9) in out
    assert f"J after the update: {net.cost(X, Y):.6f} (before {J:.6f})" in out


def test_explain_numbers_without_a_fused_output_has_no_shortcut_line(capsys):
    assert main(["explain", "--layers", "2,2,1", "--loss", "squared_error", "--numbers"]) == 0
    out = capsys.readouterr().out
    assert "(5)    dA[2] = err'(A[2], Y)" in out and "fused shortcut" not in out
    assert "dZ[2] = dA[2] * identity'(Z[2])" in out and "m = 3 random examples" in out


@pytest.mark.parametrize("argv, message", [
    (["--layers", "784,128,10"], "--numbers prints every matrix, so it takes small networks"),
    (["--layers", "2,3,1", "--batch", "9"], "--batch from 1 to 8; got --layers 2,3,1 --batch 9"),
    (["--layers", "2,3,1", "--lr", "-1"], "--lr must be a positive number"),
])
def test_explain_numbers_refuses_what_it_cannot_print(argv, message, capsys):
    assert main(["explain", *argv, "--numbers"]) == 2
    assert message in capsys.readouterr().err
