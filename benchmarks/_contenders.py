"""One benchmark contender in its own process: trains epochs and predicts on command (JSON lines).

Run by ``bench_speed.py`` as ``python _contenders.py NAME CONFIG_JSON``; reads one JSON command
a line on stdin and answers one JSON line on stdout:

- ``{"cmd": "train", "optimizer": "sgd" | "adam"}``: one epoch (``steps`` mini-batches) ->
  ``{"seconds": wall, "cpu_seconds": cpu}``; each optimizer trains its own model, whose state
  persists across epochs;
- ``{"cmd": "predict"}``: class probabilities for ``predict_m`` examples -> the same;
- ``{"cmd": "info"}`` -> peak RSS (now and right after the imports) and ``threadpool_info()``.

A process per contender keeps each one's thread pools and peak memory its own: two BLAS or
OpenMP pools in one process fight for the cores and would slow both.
"""
from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

import numpy as np

LR = {"sgd": 0.01, "adam": 1e-3}


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def random_data(cfg: dict[str, Any], m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major float32 examples (m, n_0) and integer labels (m,): the same for every contender."""
    rng = np.random.default_rng(seed)
    X_rows = rng.standard_normal((m, cfg["sizes"][0]), dtype=np.float32)
    y = rng.integers(0, cfg["sizes"][-1], size=m)
    return X_rows, y


class Contender:
    """Holds the data; subclasses build one model per optimizer and run epochs and predictions."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg, self.B = cfg, cfg["batch"]
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
        from vecprop.optimizers import SGD, Adam
        from vecprop.training import fit, predict

        self.vp, self.fit, self._predict, self.opts = vp, fit, predict, {"sgd": SGD, "adam": Adam}
        self.dtype = cfg.get("dtype", "float32")
        self.X, self.Y = self.X_rows.astype(self.dtype, copy=False).T, vp.one_hot(self.y, cfg["sizes"][-1], self.dtype)
        self.X_pred_cols = self.X_pred.astype(self.dtype, copy=False).T  # (n_0, m) views of row-major data: no copy

    def _model(self, optimizer: str):
        if optimizer not in self.models:
            sizes = self.cfg["sizes"]
            net = self.vp.Network(sizes, ["relu"] * (len(sizes) - 2) + ["softmax"], "cross_entropy",
                                  seed=0, dtype=self.dtype)
            self.models[optimizer] = (net, self.opts[optimizer](lr=LR[optimizer]))
        return self.models[optimizer]

    def train(self, optimizer):
        net, opt = self._model(optimizer)
        self.fit(net, self.X, self.Y, optimizer=opt, epochs=1, batch_size=self.B, engine=self.engine)

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
        self.loss = torch.nn.CrossEntropyLoss()

    def _model(self, optimizer: str):
        if optimizer not in self.models:
            nn, sizes = self.torch.nn, self.cfg["sizes"]
            layers: list[Any] = []
            for n_prev, n_l in zip(sizes, sizes[1:]):
                layers += [nn.Linear(n_prev, n_l), nn.ReLU()]
            model = nn.Sequential(*layers[:-1])
            cls = {"sgd": self.torch.optim.SGD, "adam": self.torch.optim.Adam}[optimizer]
            run = self.torch.compile(model) if self.compiled else model
            self.models[optimizer] = (model, run, cls(model.parameters(), lr=LR[optimizer]))
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
        with self.torch.inference_mode():
            self.torch.softmax(model(self.Xt_pred), dim=1)


class TorchCompile(Torch):
    """The same loop with ``torch.compile(model)`` (forward and backward graphs compiled; not predict)."""

    compiled = True

    def predict(self):
        raise NotImplementedError("not measured: inference would compile a third graph")


class Sklearn(Contender):
    """``MLPClassifier.partial_fit``: one epoch per call, plain SGD (momentum 0) or Adam, no L2."""

    def __init__(self, cfg):
        super().__init__(cfg)
        from sklearn.neural_network import MLPClassifier

        self.MLPClassifier = MLPClassifier
        self.dtype = cfg.get("dtype", "float32")
        self.X = self.X_rows.astype(self.dtype, copy=False)  # float64: scikit-learn's default input
        self.X_pred_d = self.X_pred.astype(self.dtype, copy=False)
        self.classes = np.arange(cfg["sizes"][-1])

    def _model(self, optimizer: str):
        if optimizer not in self.models:
            self.models[optimizer] = self.MLPClassifier(
                hidden_layer_sizes=tuple(self.cfg["sizes"][1:-1]), activation="relu", solver=optimizer,
                alpha=0.0, batch_size=self.B, learning_rate_init=LR[optimizer], momentum=0.0,
                shuffle=True, random_state=0)
        return self.models[optimizer]

    def train(self, optimizer):
        clf = self._model(optimizer)
        clf.partial_fit(self.X, self.y, classes=self.classes)
        assert clf.coefs_[0].dtype == self.dtype, "scikit-learn changed the dtype it was fed"

    def predict(self):
        clf = self._model("sgd")
        if not hasattr(clf, "coefs_"):
            clf.partial_fit(self.X, self.y, classes=self.classes)
        clf.predict_proba(self.X_pred_d)


class GemmBound(Contender):
    """The limit: a step's matrix products alone, with numpy's BLAS, in vecprop's layouts.

    Per layer l: Z[l] = Theta[l] A[l-1] (1), dTheta[l] = dZ[l] A[l-1]^T (A) and, for l >= 2,
    dA[l-1] = Theta[l]^T dZ[l] (D); A[0] is a transposed view of row-major data, as in ``fit``.
    """

    def __init__(self, cfg):
        super().__init__(cfg)
        rng, sizes, B = np.random.default_rng(2), cfg["sizes"], self.B
        f32 = np.float32
        self.Theta = [rng.standard_normal((n, p), dtype=f32) for p, n in zip(sizes, sizes[1:])]
        self.dTheta = [np.empty_like(T) for T in self.Theta]
        self.A = [self.X_rows[:B].T] + [rng.standard_normal((n, B), dtype=f32) for n in sizes[1:-1]]
        self.Z = [np.empty((n, B), f32) for n in sizes[1:]]
        self.dZ = [rng.standard_normal((n, B), dtype=f32) for n in sizes[1:]]
        self.dA = [None] + [np.empty((n, B), f32) for n in sizes[1:-1]]

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
