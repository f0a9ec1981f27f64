"""One benchmark contender in its own process: trains epochs and predicts on command (JSON lines).

Run by ``bench_speed.py`` as ``python _contenders.py NAME CONFIG_JSON``; reads one JSON command
a line on stdin and answers one JSON line on stdout:

- ``{"cmd": "train", "optimizer": NAME}``: one epoch (``steps`` mini-batches) ->
  ``{"seconds": wall, "cpu_seconds": cpu}``; each optimizer trains its own model, whose state
  persists across epochs;
- ``{"cmd": "predict"}``: class probabilities (regression: outputs) for ``predict_m`` examples -> the same;
- ``{"cmd": "info"}`` -> peak RSS (now and right after the imports) and ``threadpool_info()``.

A process per contender keeps each one's thread pools and peak memory its own: two BLAS or
OpenMP pools in one process fight for the cores and would slow both.

The configuration (a JSON object) names the network and its training: ``sizes``, ``batch``,
``steps``, ``predict_m`` and optionally ``activation`` (hidden layers, default "relu"),
``task`` ("classify": softmax + cross-entropy, the default; "regress": identity + squared
error), ``dropout`` (hidden layers), ``l2`` (fit's L2 term, biases exempt; PyTorch gets the same
term as ``weight_decay = l2 / batch`` on the weights only), ``dtype`` and ``threads``.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import numpy as np

LR = {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}
# vecprop's hidden activations and PyTorch's modules for them (vecprop's GELU is the tanh form)
TORCH_ACTIVATIONS = {"relu": ("ReLU", {}), "tanh": ("Tanh", {}), "sigmoid": ("Sigmoid", {}),
                     "leaky_relu": ("LeakyReLU", {"negative_slope": 0.01}), "elu": ("ELU", {}),
                     "softplus": ("Softplus", {}), "gelu": ("GELU", {"approximate": "tanh"}),
                     "silu": ("SiLU", {}), "identity": ("Identity", {})}
SKLEARN_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic", "identity": "identity"}


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_data(cfg: dict[str, Any], m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major examples (m, n_0) of the configuration's dtype and targets: integer labels (m,),
    or float (m, n_L) for regression; the same for every contender."""
    rng = np.random.default_rng(seed)
    dtype = cfg.get("dtype", "float32")
    X_rows = rng.standard_normal((m, cfg["sizes"][0]), dtype=np.float32).astype(dtype, copy=False)
    if cfg.get("task", "classify") == "regress":
        return X_rows, rng.standard_normal((m, cfg["sizes"][-1]), dtype=np.float32).astype(dtype, copy=False)
    return X_rows, rng.integers(0, cfg["sizes"][-1], size=m)


class Contender:
    """Holds the data; subclasses build one model per optimizer and run epochs and predictions."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg, self.B = cfg, cfg["batch"]
        self.act, self.dtype = cfg.get("activation", "relu"), cfg.get("dtype", "float32")
        self.regress, self.dropout, self.l2 = cfg.get("task") == "regress", cfg.get("dropout", 0.0), cfg.get("l2", 0.0)
        self.X_rows, self.y = random_data(cfg, cfg["batch"] * cfg["steps"], seed=0)
        self.X_pred, _ = random_data(cfg, cfg["predict_m"], seed=1)
        self.models: dict[str, Any] = {}

    def train(self, optimizer: str) -> None:
        raise NotImplementedError

    def predict(self) -> None:
        raise NotImplementedError


class Vecprop(Contender):
    """vecprop's ``fit`` for one epoch with the given engine; ``predict`` for inference."""

    engine = "fast"

    def __init__(self, cfg):
        super().__init__(cfg)
        import vecprop as vp
        from vecprop.optimizers import get_optimizer
        from vecprop.training import fit, predict

        self.vp, self.fit, self._predict, self.get_optimizer = vp, fit, predict, get_optimizer
        self.X = self.X_rows.T  # (n_0, m) views of row-major data: no copy
        self.Y = self.y.T if self.regress else vp.one_hot(self.y, cfg["sizes"][-1], self.dtype)
        self.X_pred_cols = self.X_pred.T

    def _model(self, optimizer: str):
        if optimizer not in self.models:
            sizes = self.cfg["sizes"]
            out, loss = ("identity", "squared_error") if self.regress else ("softmax", "cross_entropy")
            net = self.vp.Network(sizes, [self.act] * (len(sizes) - 2) + [out], loss, seed=0, dtype=self.dtype,
                                  dropout=self.dropout if len(sizes) > 2 else 0.0)
            self.models[optimizer] = (net, self.get_optimizer(optimizer, lr=LR[optimizer]))
        return self.models[optimizer]

    def train(self, optimizer):
        net, opt = self._model(optimizer)
        self.fit(net, self.X, self.Y, optimizer=opt, epochs=1, batch_size=self.B, l2=self.l2, engine=self.engine)

    def predict(self):
        self._predict(self._model("sgd")[0], self.X_pred_cols)


class VecpropReadable(Vecprop):
    engine = "readable"


class Torch(Contender):
    """``nn.Sequential`` of Linear + ReLU, ``CrossEntropyLoss``, ``optim.SGD``/``Adam``: the standard loop."""

    compiled = False

    def __init__(self, cfg):
        super().__init__(cfg)
        import torch

        torch.set_num_threads(cfg["threads"])
        torch.manual_seed(0)
        self.torch = torch
        self.Xt, self.yt = torch.from_numpy(self.X_rows), torch.from_numpy(self.y)
        self.Xt_pred = torch.from_numpy(self.X_pred)
        self.loss = torch.nn.MSELoss() if self.regress else torch.nn.CrossEntropyLoss()

    def _model(self, optimizer: str):
        if optimizer not in self.models:
            nn, optim, sizes = self.torch.nn, self.torch.optim, self.cfg["sizes"]
            name, kwargs = TORCH_ACTIVATIONS[self.act]
            layers: list[Any] = []
            for n_prev, n_l in zip(sizes, sizes[1:]):
                layers += [nn.Linear(n_prev, n_l), getattr(nn, name)(**kwargs)]
                if self.dropout:
                    layers.append(nn.Dropout(self.dropout))
            model = nn.Sequential(*layers[: -2 if self.dropout else -1]).to(getattr(self.torch, self.dtype))
            weights = [p for p in model.parameters() if p.ndim == 2]
            biases = [p for p in model.parameters() if p.ndim == 1]
            groups = [{"params": weights, "weight_decay": self.l2 / self.B}, {"params": biases, "weight_decay": 0.0}]
            opt = {"sgd": lambda g: optim.SGD(g, lr=LR["sgd"]),
                   "momentum": lambda g: optim.SGD(g, lr=LR["momentum"], momentum=0.9),
                   "nesterov": lambda g: optim.SGD(g, lr=LR["nesterov"], momentum=0.9, nesterov=True),
                   "rmsprop": lambda g: optim.RMSprop(g, lr=LR["rmsprop"], alpha=0.99),
                   "adam": lambda g: optim.Adam(g, lr=LR["adam"]),
                   "adamw": lambda g: optim.AdamW(g, lr=LR["adamw"])}[optimizer]
            if optimizer == "adamw":  # decoupled decay (0.01) of every parameter, as vecprop's AdamW on net.flat
                if self.l2:
                    raise ValueError("adamw with l2: PyTorch's AdamW has no coupled L2 term to match")
                groups = [{"params": weights + biases}]
            run = self.torch.compile(model) if self.compiled else model
            self.models[optimizer] = (model, run, opt(groups))
        return self.models[optimizer]

    def train(self, optimizer):
        _, model, opt = self._model(optimizer)
        m = self.Xt.shape[0]
        perm = self.torch.randperm(m)
        for start in range(0, m, self.B):
            idx = perm[start : start + self.B]
            opt.zero_grad(set_to_none=True)
            loss = self.loss(model(self.Xt[idx]), self.yt[idx])
            loss.backward()
            opt.step()

    def predict(self):
        model = self._model("sgd")[0]
        model.eval()  # no dropout
        with self.torch.inference_mode():
            out = model(self.Xt_pred)
            if not self.regress:
                self.torch.softmax(out, dim=1)
        model.train()


class TorchCompile(Torch):
    """The same loop with ``torch.compile(model)`` (forward and backward graphs compiled; not predict)."""

    compiled = True

    def predict(self):
        raise NotImplementedError("not measured: inference would compile a third graph")


class Sklearn(Contender):
    """``MLPClassifier``/``MLPRegressor.partial_fit``: one epoch per call, plain SGD (momentum 0) or Adam.

    It has four of vecprop's activations, two of its optimizers and no dropout: other
    configurations are skipped (inference only needs the activation).
    """

    def __init__(self, cfg):
        super().__init__(cfg)
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        self.cls = MLPRegressor if self.regress else MLPClassifier
        self.X = self.X_rows  # fed in the configuration's dtype; scikit-learn then computes in it
        self.classes = np.arange(cfg["sizes"][-1])

    def _activation(self) -> str:
        if self.act not in SKLEARN_ACTIVATIONS:
            raise NotImplementedError(f"scikit-learn has no {self.act} activation")
        return SKLEARN_ACTIVATIONS[self.act]

    def _model(self, optimizer: str):
        if optimizer not in ("sgd", "adam"):
            raise NotImplementedError(f"scikit-learn has no {optimizer} solver")
        if optimizer not in self.models:
            self.models[optimizer] = self.cls(
                hidden_layer_sizes=tuple(self.cfg["sizes"][1:-1]), activation=self._activation(),
                solver=optimizer, alpha=self.l2, batch_size=self.B, learning_rate_init=LR[optimizer],
                momentum=0.0, shuffle=True, random_state=0)
        return self.models[optimizer]

    def _partial_fit(self, clf) -> None:
        if self.regress:
            clf.partial_fit(self.X, self.y)
        else:
            clf.partial_fit(self.X, self.y, classes=self.classes)
        assert clf.coefs_[0].dtype == self.dtype, "scikit-learn changed the dtype it was fed"

    def train(self, optimizer):
        if self.dropout:
            raise NotImplementedError("scikit-learn has no dropout")
        self._partial_fit(self._model(optimizer))

    def predict(self):
        clf = self._model("sgd")
        if not hasattr(clf, "coefs_"):  # inference needs fitted weights: one epoch (untimed, in the warm-up)
            self._partial_fit(clf)
        clf.predict(self.X_pred) if self.regress else clf.predict_proba(self.X_pred)


class GemmBound(Contender):
    """The limit: a step's matrix products alone, with numpy's BLAS, in vecprop's layouts.

    Per layer l: Z[l] = Theta[l] A[l-1] (1), dTheta[l] = dZ[l] A[l-1]^T (A) and, for l >= 2,
    dA[l-1] = Theta[l]^T dZ[l] (D); A[0] is a transposed view of row-major data, as in ``fit``.
    """

    def __init__(self, cfg):
        super().__init__(cfg)
        rng, sizes, B, dt = np.random.default_rng(2), cfg["sizes"], self.B, np.dtype(self.dtype)
        self.Theta = [rng.standard_normal((n, p)).astype(dt) for p, n in zip(sizes, sizes[1:])]
        self.dTheta = [np.empty_like(T) for T in self.Theta]
        self.A = [self.X_rows[:B].T] + [rng.standard_normal((n, B)).astype(dt) for n in sizes[1:-1]]
        self.Z = [np.empty((n, B), dt) for n in sizes[1:]]
        self.dZ = [rng.standard_normal((n, B)).astype(dt) for n in sizes[1:]]
        self.dA = [None] + [np.empty((n, B), dt) for n in sizes[1:-1]]

    def train(self, optimizer):
        for _ in range(self.cfg["steps"]):
            for l, Theta in enumerate(self.Theta):
                np.matmul(Theta, self.A[l], out=self.Z[l])
            for l in range(len(self.Theta) - 1, -1, -1):
                np.matmul(self.dZ[l], self.A[l].T, out=self.dTheta[l])
                if l:
                    np.matmul(self.Theta[l].T, self.dZ[l], out=self.dA[l])

    def predict(self):
        raise NotImplementedError("the bound is for training steps")


CONTENDERS: dict[str, type[Contender]] = {
    "vecprop": Vecprop, "vecprop-readable": VecpropReadable, "torch": Torch,
    "torch-compile": TorchCompile, "sklearn": Sklearn, "gemm-bound": GemmBound,
}


def threadpools() -> list[dict[str, Any]]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return threadpool_info()


def main(argv: list[str]) -> None:
    name, cfg = argv[0], json.loads(argv[1])
    cls = CONTENDERS[name]
    if cls in (Torch, TorchCompile):
        import torch  # noqa: F401  (imports count toward the baseline, not the workload)
    elif cls is Sklearn:
        import sklearn.neural_network  # noqa: F401
    elif cls in (Vecprop, VecpropReadable):
        import vecprop  # noqa: F401
    baseline = peak_rss_mb()
    contender = cls(cfg)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] in ("train", "predict"):
                t, cpu = time.perf_counter(), time.process_time()
                contender.train(cmd["optimizer"]) if cmd["cmd"] == "train" else contender.predict()
                reply: dict[str, Any] = {"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu}
            elif cmd["cmd"] == "info":
                reply = {"peak_rss_mb": peak_rss_mb(), "import_rss_mb": baseline, "threadpools": threadpools()}
            else:
                reply = {"error": f"unknown command {cmd['cmd']!r}"}
        except NotImplementedError as e:
            reply = {"skipped": str(e)}
        except Exception as e:  # the orchestrator reports it and goes on with the others
            reply = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
