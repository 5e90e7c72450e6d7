"""The ``sklearn-ser export`` command: a model file to one ONNX graph.

Registered by the command line with :func:`add_export`; importing this
module imports neither onnx nor torch, which load when the command runs.
"""

from __future__ import annotations


def add_export(commands):
    """Add the ``export`` sub-command to ``commands`` (the sub-parsers of ``sklearn-ser``)."""
    export = commands.add_parser(
        "export",
        help="export a fitted model as one ONNX graph from waveforms to class probabilities",
        description="Load a model file (written by 'sklearn-ser fit' or joblib.dump; it runs code when loaded: "
        "export only files you trust) and write one ONNX graph from a padded batch of mono waveforms at the "
        "model's sampling rate (float32 [batch, time], with their lengths, int64 [batch]) to class probabilities "
        "([batch, n_classes]); the labels, sampling rate, recipe and sklearn-ser version are in its metadata. It "
        "runs with onnxruntime alone (see examples/onnx_inference.py). Steps without an exact ONNX form "
        "(openSMILE features, per-speaker normalization) are refused by name. Needs "
        "pip install 'sklearn-ser[export]'.",
    )
    export.add_argument("model", help="the model file (.joblib)")
    export.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write")
    export.add_argument(
        "--speaker-normalizer",
        choices=("refuse", "without-speaker-ids"),
        default="refuse",
        help="a SpeakerNormalizer needs each speaker's other recordings: refuse it (default), or export what "
        "predict does without speaker ids (sequences normalized per utterance, tables with training statistics)",
    )
    export.add_argument("--force", action="store_true", help="replace OUT.onnx even if it is not an ONNX model")
    export.set_defaults(run=run_export)
    return export


def run_export(args):
    """Run ``sklearn-ser export`` with the parsed ``args``; prints what was written."""
    import os

    from .._files import check_writable
    from .._predict import load_model

    check_writable(args.out, option="OUT.onnx", kind="onnx")
    model = load_model(args.model)
    from ._onnx import to_onnx

    graph = to_onnx(model, args.out, speaker_normalizer=args.speaker_normalizer)
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    size = os.path.getsize(args.out) / 1e6
    print(
        f"Wrote {args.out} ({size:.2f} MB): waveforms at {metadata['sampling_rate']} Hz -> probabilities of "
        f"{metadata['labels']}."
    )
    return 0
