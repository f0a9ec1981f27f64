"""Tiny networks worked out by hand: every intermediate matrix of (1), (2), (5) and (A)-(D)."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop

k = np.log(3.0)  # chosen so that sigmoid(+-k) = 1 / (1 + 3^-+1) is 3/4 or 1/4, and e^k = 3
ATOL = 1e-14


@pytest.fixture
def net_2_2_1():
    """2-2-1, sigmoid hidden, identity output, squared error, m = 2 examples.

    Theta1 = k [[1, 0],    b1 = [[0],     Theta2 = [[4, -2]],   b2 = [[0.5]]
                [1, -1]]         [k]]
    X = [[1, -1],   (example 1 is the column (1, 1), example 2 is (-1, 0))
         [1,  0]]
    Y = [[1, 0]]
    """
    net = vecprop.Network([2, 2, 1], ["sigmoid", "identity"], "squared_error", dtype="float64")
    (Theta1, b1), (Theta2, b2) = net.params
    Theta1[...] = k * np.array([[1.0, 0.0], [1.0, -1.0]])
    b1[...] = [[0.0], [k]]
    Theta2[...] = [[4.0, -2.0]]
    b2[...] = [[0.5]]
    X = np.array([[1.0, -1.0], [1.0, 0.0]])
    Y = np.array([[1.0, 0.0]])
    return net, X, Y


def test_2_2_1_by_hand(net_2_2_1):
    net, X, Y = net_2_2_1
    grads = net.gradients(X, Y)
    c = net.cache

    # (1) Z1 = Theta1 X + b1
    #   row 1: k*x1 + 0*x2 + 0        -> example 1: k*1 = k       example 2: k*(-1) = -k
    #   row 2: k*x1 - k*x2 + k        -> example 1: k - k + k = k  example 2: -k - 0 + k = 0
    Z1 = np.array([[k, -k], [k, 0.0]])
    # (1) A1 = sigmoid(Z1): sigmoid(k) = 1/(1 + 1/3) = 3/4, sigmoid(-k) = 1/(1 + 3) = 1/4, sigmoid(0) = 1/2
    A1 = np.array([[0.75, 0.25], [0.75, 0.5]])
    # (1) Z2 = Theta2 A1 + b2 = 4*A1[0] - 2*A1[1] + 0.5
    #   example 1: 4*3/4 - 2*3/4 + 0.5 = 3 - 1.5 + 0.5 = 2
    #   example 2: 4*1/4 - 2*1/2 + 0.5 = 1 - 1   + 0.5 = 0.5
    Z2 = np.array([[2.0, 0.5]])
    A2 = Z2  # identity output
    # (2) J = 1/m sum_c err, err = (a - y)^2 / 2: (0.5*(2 - 1)^2 + 0.5*(0.5 - 0)^2) / 2
    #       = (0.5 + 0.125) / 2 = 0.3125
    J = 0.3125
    # (5) dA2 = err'{A2, Y} = A2 - Y = [2 - 1, 0.5 - 0] = [1, 0.5]
    dA2 = np.array([[1.0, 0.5]])
    # (C) dZ2 = dA2 * alpha'(Z2) = dA2 * 1
    dZ2 = dA2
    # (A) dTheta2 = 1/m dZ2 A1^T = 1/2 [1*3/4 + 0.5*1/4,  1*3/4 + 0.5*1/2] = 1/2 [7/8, 1]
    dTheta2 = np.array([[0.4375, 0.5]])
    # (B) db2 = 1/m sum_c dZ2 = (1 + 0.5) / 2
    db2 = np.array([[0.75]])
    # (D) dA1 = Theta2^T dZ2 = [[4], [-2]] [[1, 0.5]] = [[4, 2], [-2, -1]]
    dA1 = np.array([[4.0, 2.0], [-2.0, -1.0]])
    # (C) alpha'(Z1) = A1 (1 - A1) = [[3/4*1/4, 1/4*3/4], [3/4*1/4, 1/2*1/2]] = [[3/16, 3/16], [3/16, 1/4]]
    #     dZ1 = dA1 * alpha'(Z1) = [[4*3/16, 2*3/16], [-2*3/16, -1*1/4]] = [[3/4, 3/8], [-3/8, -1/4]]
    dZ1 = np.array([[0.75, 0.375], [-0.375, -0.25]])
    # (A) dTheta1 = 1/m dZ1 X^T with X^T = [[1, 1], [-1, 0]]
    #   row 1: [3/4*1 + 3/8*(-1),     3/4*1 + 3/8*0]     / 2 = [3/8, 3/4] / 2   = [3/16, 3/8]
    #   row 2: [-3/8*1 + (-1/4)(-1), -3/8*1 + (-1/4)*0]  / 2 = [-1/8, -3/8] / 2 = [-1/16, -3/16]
    dTheta1 = np.array([[0.1875, 0.375], [-0.0625, -0.1875]])
    # (B) db1 = 1/m row sums of dZ1 = [(3/4 + 3/8) / 2, (-3/8 - 1/4) / 2] = [9/16, -5/16]
    db1 = np.array([[0.5625], [-0.3125]])

    np.testing.assert_allclose(c.A[0], X, atol=ATOL)
    np.testing.assert_allclose(c.Z[1], Z1, atol=ATOL)
    np.testing.assert_allclose(c.A[1], A1, atol=ATOL)
    np.testing.assert_allclose(c.Z[2], Z2, atol=ATOL)
    np.testing.assert_allclose(c.A[2], A2, atol=ATOL)
    assert net.cost(X, Y) == pytest.approx(J, abs=ATOL)
    np.testing.assert_allclose(c.dA[2], dA2, atol=ATOL)
    np.testing.assert_allclose(c.dZ[2], dZ2, atol=ATOL)
    np.testing.assert_allclose(c.dA[1], dA1, atol=ATOL)
    np.testing.assert_allclose(c.dZ[1], dZ1, atol=ATOL)
    (g_Theta1, g_b1), (g_Theta2, g_b2) = grads
    np.testing.assert_allclose(g_Theta2, dTheta2, atol=ATOL)
    np.testing.assert_allclose(g_b2, db2, atol=ATOL)
    np.testing.assert_allclose(g_Theta1, dTheta1, atol=ATOL)
    np.testing.assert_allclose(g_b1, db1, atol=ATOL)


def test_2_2_1_one_gradient_step_lowers_J_by_the_predicted_amount(net_2_2_1):
    """J(p - h g) = J - h |g|^2 + O(h^2): the hand-worked gradient is the direction of steepest ascent."""
    net, X, Y = net_2_2_1
    g = net.flatten(net.gradients(X, Y))
    h = 1e-5
    net.flat -= h * g
    # |g|^2 from the hand-worked numbers: 0.4375^2 + 0.5^2 + 0.75^2 + 0.1875^2 + 0.375^2 + 0.0625^2
    #   + 0.1875^2 + 0.5625^2 + 0.3125^2
    g2 = 0.4375**2 + 0.5**2 + 0.75**2 + 0.1875**2 + 0.375**2 + 0.0625**2 + 0.1875**2 + 0.5625**2 + 0.3125**2
    assert net.cost(X, Y) == pytest.approx(0.3125 - h * g2, abs=1e-8)


def test_fused_softmax_cross_entropy_by_hand():
    """1-2 softmax layer, cross-entropy, m = 2: dZ = A - Y without forming dA.

    Theta = [[k], [0]], b = 0, X = [[1, 2]], labels (1, 0).
    """
    net = vecprop.Network([1, 2], ["softmax"], "cross_entropy", dtype="float64")
    Theta, b = net.params[0]
    Theta[...] = [[k], [0.0]]
    b[...] = 0.0
    X = np.array([[1.0, 2.0]])
    Y = vecprop.one_hot(np.array([1, 0]), 2, dtype="float64")  # [[0, 1], [1, 0]]
    grads = net.gradients(X, Y)
    c = net.cache

    # (1) Z = Theta X = [[k, 2k], [0, 0]]
    Z = np.array([[k, 2 * k], [0.0, 0.0]])
    # softmax per column: e^k = 3 -> (3, 1)/4;  e^2k = 9 -> (9, 1)/10
    A = np.array([[0.75, 0.9], [0.25, 0.1]])
    # (2) J = 1/2 (-log 1/4 - log 9/10) = 1/2 log(40/9)
    J = 0.5 * np.log(40.0 / 9.0)
    # fused (C): dZ = A - Y = [[3/4 - 0, 9/10 - 1], [1/4 - 1, 1/10 - 0]]
    dZ = np.array([[0.75, -0.1], [-0.75, 0.1]])
    # (A) dTheta = 1/2 dZ X^T = 1/2 [[3/4 - 2/10], [-3/4 + 2/10]] = [[0.275], [-0.275]]
    dTheta = np.array([[0.275], [-0.275]])
    # (B) db = 1/2 row sums = [[(3/4 - 1/10)/2], [(-3/4 + 1/10)/2]] = [[0.325], [-0.325]]
    db = np.array([[0.325], [-0.325]])

    np.testing.assert_allclose(c.Z[1], Z, atol=ATOL)
    np.testing.assert_allclose(c.A[1], A, atol=ATOL)
    assert net.cost(X, Y) == pytest.approx(J, abs=ATOL)
    assert c.dA[1] is None  # fused: dA[L] = -Y/A is never formed
    np.testing.assert_allclose(c.dZ[1], dZ, atol=ATOL)
    np.testing.assert_allclose(grads[0][0], dTheta, atol=ATOL)
    np.testing.assert_allclose(grads[0][1], db, atol=ATOL)
