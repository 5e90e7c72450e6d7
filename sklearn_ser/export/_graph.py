"""Building the ONNX graph: the torch part through ``torch.onnx.export``, the scikit-learn tail through skl2onnx."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import torch

from ._sequence_steps import Chain
from ._steps import UnsupportedStepError, refuse

#: Example batch the torch part is traced with; its axes are declared dynamic.
_EXAMPLE_SAMPLES = (24000, 7000)


def export_torch(modules, output_name, opset):
    """The ONNX model of ``Chain(modules)`` from ``waveforms`` and ``lengths`` to ``output_name``.

    Exported by tracing (``torch.onnx.export(dynamo=False)``) with dynamic
    batch and time axes: it writes torch's LSTMs as ONNX ``LSTM`` nodes with
    a dynamic batch, in about a second, where the dynamo exporter (torch
    2.14) fixed the batch size of an LSTM to the example's and took ten.
    The modules branch on no value, so the trace holds for every input.
    """
    import onnx

    chain = Chain(modules).eval()
    rng = np.random.default_rng(0)
    waveforms = torch.from_numpy(rng.standard_normal((len(_EXAMPLE_SAMPLES), max(_EXAMPLE_SAMPLES))).astype("float32"))
    lengths = torch.tensor(_EXAMPLE_SAMPLES, dtype=torch.int64)
    buffer = io.BytesIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            chain,
            (waveforms, lengths),
            buffer,
            input_names=["waveforms", "lengths"],
            output_names=[output_name],
            dynamic_axes={"waveforms": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, output_name: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    return onnx.load_from_string(buffer.getvalue())


def merge_tail(torch_model, tail, opset):
    """``torch_model`` (output ``features``, a float64 table) followed by the skl2onnx graph of the ``tail`` steps."""
    import onnx
    from onnx import helper
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType
    from sklearn.pipeline import Pipeline

    last = tail[-1][1]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # skl2onnx reads SVC's probA_, deprecated in sklearn 1.9
            tail_model = convert_sklearn(
                Pipeline(tail),
                initial_types=[("features", DoubleTensorType([None, None]))],
                target_opset={"": opset, "ai.onnx.ml": 3},
                options={id(last): {"zipmap": False}},
            )
    except Exception as exc:  # skl2onnx raises its own types (missing converter, unsupported option)
        path, step = _blamed(tail, str(exc))
        refuse(path, step, f"skl2onnx cannot convert it ({type(exc).__name__}: {str(exc).strip().splitlines()[0]})")
    tail_model = onnx.compose.add_prefix(tail_model, "tail_")
    ir_version = min(torch_model.ir_version, tail_model.ir_version)
    torch_model.ir_version = tail_model.ir_version = ir_version
    _align_opsets(torch_model, tail_model)
    merged = onnx.compose.merge_models(torch_model, tail_model, io_map=[("features", "tail_features")])
    graph = merged.graph
    probabilities = next(output.name for output in graph.output if output.name.endswith("probabilities"))
    graph.node.append(helper.make_node("Cast", [probabilities], ["probabilities"], to=onnx.TensorProto.FLOAT))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [None, None]))
    _prune(graph)
    return merged


def _align_opsets(*models):
    """Give every model the highest version of each domain any of them imports (merge_models wants them equal)."""
    versions = {}
    for model in models:
        for entry in model.opset_import:
            versions[entry.domain] = max(versions.get(entry.domain, 0), entry.version)
    for model in models:
        for entry in model.opset_import:
            entry.version = versions[entry.domain]


def _prune(graph):
    """Remove the nodes no output of ``graph`` needs (the tail's label output)."""
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(name in needed for name in node.output):
            kept.append(node)
            needed.update(node.input)
    del graph.node[:]
    graph.node.extend(reversed(kept))
    used = {name for node in graph.node for name in node.input}
    initializers = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _blamed(tail, message):
    """The tail step a skl2onnx error message names (by class name), else the first."""
    for path, step in tail:
        if type(step).__name__ in message:
            return path, step
    return tail[0]


__all__ = ["UnsupportedStepError", "export_torch", "merge_tail"]
