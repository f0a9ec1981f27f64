"""``vecprop export MODEL -o model.onnx``: a model file as ONNX, preprocessing and labels inside the graph."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..export_onnx import DEFAULT_OPSET
from .errors import UserError, user_errors
from .modelfile import open_model


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "export", help="export a model file to ONNX (onnxruntime, C++, C#, Java, JavaScript runtimes)",
        description="Write MODEL as an ONNX graph: input X (batch, n_features) raw rows in the model's feature "
                    "order; the stored preprocessing, one Gemm per layer and the activations inside; outputs "
                    "label and probabilities (classifiers) or prediction (regression). Needs the onnx package: "
                    "pip install 'vecprop[onnx]'.",
        epilog="examples:\n  vecprop export runs/iris/model.npz -o iris.onnx\n"
               "  vecprop export model.npz -o model.onnx --opset 13 --dtype float64",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", metavar="MODEL", help="a vecprop model file")
    p.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="the ONNX file to write")
    p.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="the graph's float type (default float32)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    model = open_model(args.model)
    out = Path(args.output)
    if out.resolve() == Path(args.model).resolve():
        raise UserError(f"--output {args.output} is MODEL itself; choose another file name")
    with user_errors("export"):
        model.to_onnx(out, opset=args.opset, dtype=args.dtype)
    names = "label, probabilities" if model.task != "regression" else "prediction"
    print(f"wrote {out}: input X (batch, {model.n_features}) {args.dtype}, outputs {names}, opset {args.opset}")
    return 0
