"""Export a fitted model as one ONNX graph, from waveforms to class probabilities, that runs without Python.

:func:`to_onnx` writes the graph; the command line's ``sklearn-ser export
MODEL OUT.onnx`` calls it. ``onnx``, ``onnxruntime`` and ``skl2onnx`` are
needed to export (``pip install sklearn-ser[export]``); the
exported file needs only an ONNX runtime (see ``examples/onnx_inference.py``).

The names load on first use, so that the command line registers ``export``
without importing torch or onnx.
"""

__all__ = ["UnsupportedStepError", "to_onnx"]


def __getattr__(name):
    if name == "to_onnx":
        from ._onnx import to_onnx

        return to_onnx
    if name == "UnsupportedStepError":
        from ._steps import UnsupportedStepError

        return UnsupportedStepError
    raise AttributeError(f"module 'sklearn_ser.export' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
