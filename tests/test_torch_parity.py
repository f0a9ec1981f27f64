"""Forward A[L], cost J and gradients against PyTorch autograd (float64, CPU), which computes everything itself."""
from __future__ import annotations

import numpy as np
import pytest

import vecprop

torch = pytest.importorskip("torch")
F = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12

# vecprop activation -> the same function written with torch (parameters read from the object).
TORCH_ACTIVATIONS = {
    "identity": lambda Z, act: Z,
    "sigmoid": lambda Z, act: torch.sigmoid(Z),
    "tanh": lambda Z, act: torch.tanh(Z),
    "relu": lambda Z, act: F.relu(Z),
    "leaky_relu": lambda Z, act: F.leaky_relu(Z, negative_slope=act.slope),
    "elu": lambda Z, act: F.elu(Z, alpha=act.alpha),
    "softplus": lambda Z, act: F.softplus(Z),
    "exp": lambda Z, act: torch.exp(Z),
    "gelu": lambda Z, act: F.gelu(Z, approximate="tanh"),
    "silu": lambda Z, act: F.silu(Z),
    "softmax": lambda Z, act: torch.softmax(Z, dim=1),  # rows are examples in torch
}
# Non-default parameters, so that a parameter that is ignored shows up.
ACTIVATION_SPECS = {name: name for name in TORCH_ACTIVATIONS}
ACTIVATION_SPECS["leaky_relu"] = {"name": "leaky_relu", "slope": 0.2}
ACTIVATION_SPECS["elu"] = {"name": "elu", "alpha": 0.7}


def torch_cost(loss, Z_L, A_L, Y):
    """J = 1/m sum over examples and outputs of err, written with torch's own losses (rows = examples)."""
    m = Y.shape[0]
    if loss.name == "squared_error":
        return 0.5 * F.mse_loss(A_L, Y, reduction="sum") / m
    if loss.name == "absolute_error":
        return F.l1_loss(A_L, Y, reduction="sum") / m
    if loss.name == "huber":
        return F.huber_loss(A_L, Y, reduction="sum", delta=loss.delta) / m
    if loss.name == "binary_cross_entropy":
        return F.binary_cross_entropy_with_logits(Z_L, Y, reduction="sum") / m
    if loss.name == "cross_entropy":
        return F.cross_entropy(Z_L, Y.argmax(dim=1), reduction="mean")  # logits + class indices
    if loss.name == "poisson":  # torch's e^z - y z from the log-rate, plus the deviance's y log y - y
        nll = F.poisson_nll_loss(Z_L, Y, log_input=True, full=False, reduction="sum")
        return (nll + (torch.xlogy(Y, Y) - Y).sum()) / m
    raise AssertionError(loss.name)


def torch_run(net, X, Y, *, l2=0.0, masks=None):
    """A[L] (n_L, m), J and [(dTheta, db)] from torch autograd, on the network's weights."""
    leaves = [(torch.tensor(Theta, dtype=torch.float64, requires_grad=True),
               torch.tensor(b[:, 0], dtype=torch.float64, requires_grad=True)) for Theta, b in net.params]
    A = torch.tensor(X.T, dtype=torch.float64)
    for l, ((Theta, b), act) in enumerate(zip(leaves, net.activations), start=1):
        Z = F.linear(A, Theta, b)  # A @ Theta.T + b, rows = examples
        A = TORCH_ACTIVATIONS[act.name](Z, act)
        if masks is not None and masks[l] is not None:
            A = A * torch.tensor(masks[l].T)
    J = torch_cost(net.loss, Z, A, torch.tensor(Y.T, dtype=torch.float64))
    if l2:
        J = J + l2 / (2 * X.shape[1]) * sum((Theta**2).sum() for Theta, _ in leaves)
    J.backward()
    grads = [(Theta.grad.numpy(), b.grad.numpy()[:, None]) for Theta, b in leaves]
    return A.detach().numpy().T, J.item(), grads


def random_case(hidden, output, loss, seed, m=7):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(2, 5))
    sizes = [int(n) for n in rng.integers(2, 7, size=depth + 1)]
    net = vecprop.Network(sizes, [hidden] * (depth - 1) + [output], loss, seed=seed, dtype="float64")
    for _, b in net.params:
        b[...] = rng.normal(scale=0.5, size=b.shape)
    X = rng.normal(size=(sizes[0], m))
    n_L = sizes[-1]
    if net.loss.name == "cross_entropy":
        Y = vecprop.one_hot(rng.integers(n_L, size=m), n_L, dtype="float64")
    elif net.loss.name == "binary_cross_entropy":
        Y = rng.integers(0, 2, size=(n_L, m)).astype(np.float64)
    elif net.loss.name == "poisson":
        Y = rng.poisson(1.5, size=(n_L, m)).astype(np.float64)
    else:
        Y = rng.normal(size=(n_L, m))
    return net, X, Y


def assert_parity(net, X, Y, **kwargs):
    A_ref, J_ref, grads_ref = torch_run(net, X, Y, **kwargs)
    masks = kwargs.get("masks")
    A_L = net.forward(X, masks=masks)
    np.testing.assert_allclose(A_L, A_ref, rtol=RTOL, atol=ATOL)
    assert net.cost(X, Y, l2=kwargs.get("l2", 0.0), masks=masks) == pytest.approx(J_ref, rel=RTOL, abs=ATOL)
    grads = net.gradients(X, Y, l2=kwargs.get("l2", 0.0), masks=masks)
    for l, ((dTheta, db), (dTheta_ref, db_ref)) in enumerate(zip(grads, grads_ref), start=1):
        np.testing.assert_allclose(dTheta, dTheta_ref, rtol=RTOL, atol=ATOL, err_msg=f"dTheta[{l}]")
        np.testing.assert_allclose(db, db_ref, rtol=RTOL, atol=ATOL, err_msg=f"db[{l}]")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(ACTIVATION_SPECS))
def test_activation_in_hidden_layers(name, seed):
    net, X, Y = random_case(ACTIVATION_SPECS[name], "identity", "squared_error", seed)
    if name == "exp":  # exp of exp of exp grows doubly exponentially: small weights keep it finite
        net.flat *= 0.3
    assert_parity(net, X, Y)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", sorted(ACTIVATION_SPECS))
def test_activation_as_output(name, seed):
    assert_parity(*random_case("tanh", ACTIVATION_SPECS[name], "squared_error", seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss, output", [
    ("squared_error", "identity"),
    ("absolute_error", "identity"),
    ({"name": "huber", "delta": 0.3}, "identity"),
    ("binary_cross_entropy", "sigmoid"),
    ("cross_entropy", "softmax"),
    ("poisson", "exp"),
], ids=["squared_error", "absolute_error", "huber", "binary_cross_entropy", "cross_entropy", "poisson"])
def test_loss(loss, output, seed):
    net, X, Y = random_case("gelu", output, loss, seed)
    if net.loss.name == "huber":  # both branches of the Huber loss must occur
        d = np.abs(net.forward(X) - Y)
        assert (d < 0.3).any() and (d > 0.3).any()
    assert_parity(net, X, Y)


def test_l2_and_dropout_masks():
    net = vecprop.Network([5, 6, 6, 3], ["relu", "silu", "softmax"], "cross_entropy",
                          seed=3, dtype="float64", dropout=[0.3, 0.5])
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5, 9))
    Y = vecprop.one_hot(rng.integers(3, size=9), 3, dtype="float64")
    net.forward(X, rng=rng)
    assert_parity(net, X, Y, l2=0.4, masks=net.cache.M)


@pytest.mark.parametrize("name", sorted(set(ACTIVATION_SPECS) - {"softmax"}))
def test_elementwise_value_and_derivative(name):
    act = vecprop.get_activation(ACTIVATION_SPECS[name])
    Z = np.linspace(-6.0, 6.0, 241).reshape(1, -1) + 0.01  # +0.01 keeps 0 (a kink) off the grid
    Zt = torch.tensor(Z, requires_grad=True)
    At = TORCH_ACTIVATIONS[name](Zt, act)
    At.sum().backward()
    np.testing.assert_allclose(act.value(Z), At.detach().numpy(), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(act.derivative(Z), Zt.grad.numpy(), rtol=1e-13, atol=1e-13)
