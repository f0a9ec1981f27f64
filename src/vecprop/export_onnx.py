"""ONNX export of a Model: preprocessing, one Gemm per layer (Theta as stored), activations, labels."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .datasets.scaling import Standardizer

DEFAULT_OPSET = 17
MIN_OPSET = 13  # Softmax(axis) as a per-row softmax; ArgMax/Gather/Where as used here


class _Graph:
    """Nodes and constants of one ONNX graph, with fresh names; values are (batch, n) tensors."""

    def __init__(self, onnx: Any, dtype: np.dtype) -> None:
        self.onnx, self.dtype = onnx, dtype
        self.nodes: list[Any] = []
        self.constants: list[Any] = []
        self._n = 0

    def name(self, hint: str) -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def const(self, hint: str, value: Any, dtype: Any = None) -> str:
        name = self.name(hint)
        array = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        self.constants.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], hint: str | None = None, out: str | None = None, **attrs: Any) -> str:
        out = out or self.name(hint or op_type.lower())
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], **attrs))
        return out


def to_onnx(model: Any, path: str | os.PathLike | None = None, *, opset: int = DEFAULT_OPSET,
            dtype: str = "float32") -> Any:
    """The ONNX ``ModelProto`` of a vecprop ``Model`` (written to ``path`` when given).

    Graph input ``X``: (batch, n_features) raw rows in ``feature_names`` order, of ``dtype``,
    with a named dynamic batch dimension. Inside: the stored preprocessing (missing values ->
    fill, scaling), then per layer ``Z = Gemm(A, Theta, b, transB=1)`` (Theta (n_l, n_{l-1}) as
    stored: the derivation's columns are ONNX's rows with no copy) and the activation. Outputs:
    classifiers ``label`` (the model's own class values; 0/1 indicators for multilabel) and
    ``probabilities`` (batch, n_classes), no ZipMap (``scores`` instead of probabilities when the
    output layer is neither softmax nor sigmoid); regressors ``prediction`` (batch, k) in the
    target's own units. Class and feature names and the vecprop version are in metadata_props.
    """
    try:
        import onnx
        import onnx.helper  # noqa: F401
        import onnx.numpy_helper  # noqa: F401
    except ImportError as err:
        raise ImportError("ONNX export needs the onnx package: pip install 'vecprop[onnx]'") from err
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    top = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, int) or not MIN_OPSET <= opset <= top:
        raise ValueError(f"opset must be an integer from {MIN_OPSET} to {top} (this onnx package's newest); "
                         f"got {opset!r}")
    pre = model.preprocessing
    if pre is not None and not pre.numeric_only:
        raise ValueError("this model has categorical (text) input columns; the ONNX export takes numeric inputs "
                         "only (a float tensor X)")
    g = _Graph(onnx, np.dtype(dtype))
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    A = _preprocess(g, "X", pre)
    net = model.network
    for l, ((Theta, b), act) in enumerate(zip(net.params, net.activations), start=1):
        Z = g.op("Gemm", [A, g.const(f"Theta{l}", Theta), g.const(f"b{l}", b[:, 0])], f"Z{l}", transB=1)
        A = _activation(g, act, Z, l)
    outputs = _outputs(g, model, A)
    n_raw = model.n_features
    graph = onnx.helper.make_graph(
        g.nodes, "vecprop", [onnx.helper.make_tensor_value_info("X", elem, ["batch", n_raw])],
        [onnx.helper.make_tensor_value_info(name, kind, shape) for name, kind, shape in outputs], g.constants)
    opsets = [onnx.helper.make_opsetid("", opset)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets, producer_name="vecprop",
                                   producer_version=_version(), ir_version=onnx.helper.find_min_ir_version_for(opsets))
    onnx.helper.set_model_props(proto, _props(model))
    onnx.checker.check_model(proto, full_check=True)
    if path is not None:
        from ._atomic import atomic_write

        atomic_write(Path(path), lambda fh: fh.write(proto.SerializeToString()))
    return proto


def _preprocess(g: _Graph, X: str, pre: Any) -> str:
    """Missing values -> their fill (NaN where none), then (X - mean) / std or (X - min) / range."""
    if pre is None:
        return X
    fills = [c.fill for c in pre.columns]
    if any(f is not None for f in fills):
        F = g.const("fill", [np.nan if f is None else f for f in fills])
        X = g.op("Where", [g.op("IsNaN", [X]), F, X], "filled")
    if pre.features:
        X = _derived(g, X, pre.features)
    if pre.scaler is None:
        return X
    shift, scale = ((pre.scaler.mean_, pre.scaler.std_) if isinstance(pre.scaler, Standardizer)
                    else (pre.scaler.min_, pre.scaler.range_))
    return g.op("Div", [g.op("Sub", [X, g.const("shift", shift)]), g.const("scale", scale)], "scaled")


def _derived(g: _Graph, X: str, terms: tuple[tuple[str, tuple[int, ...]], ...]) -> str:
    """One (batch, 1) column per derived input: x_j, x_j^2, sin x_j, x_j x_k; then concatenated."""
    def col(j: int) -> str:
        return g.op("Gather", [X, g.const("col", [j], np.int64)], axis=1)

    parts = []
    for op, of in terms:
        x = col(of[0])
        parts.append(x if op == "x" else g.op("Mul", [x, x]) if op == "square" else g.op("Sin", [x]) if op == "sin"
                     else g.op("Mul", [x, col(of[1])]))
    return g.op("Concat", parts, "features", axis=1)


def _activation(g: _Graph, act: Any, Z: str, l: int) -> str:
    """A[l] = alpha[l](Z[l]), with the same formula as vecprop's (stable forms decomposed)."""
    name = act.name
    if name == "identity":
        return Z
    if name in ("relu", "sigmoid", "tanh", "exp"):
        return g.op({"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp"}[name], [Z], f"A{l}")
    if name == "softmax":
        return g.op("Softmax", [Z], f"A{l}", axis=1)
    if name == "leaky_relu":
        if g.dtype == np.float32:
            return g.op("LeakyRelu", [Z], f"A{l}", alpha=act.slope)
        positive = g.op("Greater", [Z, g.const("zero", 0.0)])
        return g.op("Where", [positive, Z, g.op("Mul", [Z, g.const("slope", act.slope)])], f"A{l}")
    if name == "elu":
        if g.dtype == np.float32:
            return g.op("Elu", [Z], f"A{l}", alpha=act.alpha)
        negative = g.op("Min", [Z, g.const("zero", 0.0)])
        tail = g.op("Mul", [g.op("Sub", [g.op("Exp", [negative]), g.const("one", 1.0)]), g.const("alpha", act.alpha)])
        return g.op("Where", [g.op("Greater", [Z, g.const("zero", 0.0)]), Z, tail], f"A{l}")
    if name == "softplus":  # max(z, 0) + log(1 + e^-|z|): no overflow, as vecprop computes it
        tail = g.op("Log", [g.op("Add", [g.const("one", 1.0), g.op("Exp", [g.op("Neg", [g.op("Abs", [Z])])])])])
        return g.op("Add", [g.op("Relu", [Z]), tail], f"A{l}")
    if name == "silu":
        return g.op("Mul", [Z, g.op("Sigmoid", [Z])], f"A{l}")
    if name == "gelu":  # the tanh form, as vecprop's: 0.5 z (1 + tanh(c (z + 0.044715 z^3)))
        cube = g.op("Mul", [g.op("Mul", [Z, Z]), Z])
        inner = g.op("Add", [Z, g.op("Mul", [cube, g.const("k", 0.044715)])])
        t = g.op("Tanh", [g.op("Mul", [inner, g.const("c", np.sqrt(2.0 / np.pi))])])
        return g.op("Mul", [g.op("Mul", [Z, g.const("half", 0.5)]), g.op("Add", [t, g.const("one", 1.0)])], f"A{l}")
    raise ValueError(f"layer {l}'s activation {name!r} has no ONNX form in vecprop's exporter")


def _outputs(g: _Graph, model: Any, A: str) -> list[tuple[str, int, list[Any]]]:
    """The graph's outputs from A[L] (batch, n_L): label + probabilities/scores, or prediction."""
    onnx, elem = g.onnx, g.onnx.helper.np_dtype_to_tensor_dtype(g.dtype)
    k = model.n_outputs
    if model.task == "regression":
        if model.target_scaler is not None:
            A = g.op("Add", [g.op("Mul", [A, g.const("target_std", model.target_scaler.std_)]),
                             g.const("target_mean", model.target_scaler.mean_)])
        g.op("Identity", [A], out="prediction")
        return [("prediction", elem, ["batch", k])]
    proba = model.network.activations[-1].name in ("softmax", "sigmoid")
    scores = A
    if model.task == "binary" and k == 1:
        scores = g.op("Concat", [g.op("Sub", [g.const("one", 1.0), A]), A], axis=1)
    g.op("Identity", [scores], out="probabilities" if proba else "scores")
    n_cols = 2 if model.task == "binary" else k
    second = ("probabilities" if proba else "scores", elem, ["batch", n_cols])
    if model.task == "multilabel":
        g.op("Cast", [g.op("Greater", [A, g.const("half", 0.5)])], out="label", to=onnx.TensorProto.INT64)
        return [("label", onnx.TensorProto.INT64, ["batch", k]), second]
    if k == 1:  # one sigmoid unit: class 1 when p > 0.5 (scikit-learn's rule)
        above = g.op("Cast", [g.op("Greater", [A, g.const("half", 0.5)])], to=onnx.TensorProto.INT64)
        index = g.op("Squeeze", [above, g.const("axis1", [1], np.int64)])
    else:
        index = g.op("ArgMax", [A], axis=1, keepdims=0)
    classes = np.asarray(model.classes)
    kind = classes.dtype if classes.dtype.kind != "U" else np.dtype(object)  # float classes stay float64: exact
    g.op("Gather", [g.const("classes", classes.astype(kind), kind), index], out="label", axis=0)
    return [("label", onnx.helper.np_dtype_to_tensor_dtype(kind), ["batch"]), second]


def _props(model: Any) -> dict[str, str]:
    props = {"vecprop_version": _version(), "task": model.task, "n_outputs": str(model.n_outputs),
             "network": json.dumps(model.network.config())}
    if model.classes is not None:
        props["classes"] = json.dumps(list(model.classes))
    if model.feature_names is not None:
        props["feature_names"] = json.dumps(list(model.feature_names))
    return props


def _version() -> str:
    from . import __version__

    return __version__
