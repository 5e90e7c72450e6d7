"""
Run an exported model with onnxruntime alone
=============================================

``sklearn-ser export MODEL OUT.onnx`` (or :func:`sklearn_ser.export.to_onnx`)
writes one ONNX graph from waveforms to class probabilities. Running it needs
no sklearn-ser, scikit-learn, torch or pickle: :func:`classify` below uses
``onnxruntime``, ``soundfile`` and NumPy only. It reads a WAV file, makes it
mono, checks its sampling rate against the model's metadata (resampling is
the caller's part: resample first, e.g. with soxr, to the rate the model
names), and prints the label and its probability.

    sklearn-ser export model.joblib model.onnx
    python examples/onnx_inference.py --model model.onnx speech.wav
    python examples/onnx_inference.py --quick      # fits and exports a tiny model first
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import soundfile


def classify(model_path, wav_paths):
    """Labels and probabilities of the WAV files ``wav_paths`` from the ONNX model at ``model_path``.

    Only onnxruntime, soundfile and NumPy: the model's metadata names its
    labels and sampling rate.
    """
    session = onnxruntime.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    metadata = session.get_modelmeta().custom_metadata_map
    labels, rate = json.loads(metadata["labels"]), int(metadata["sampling_rate"])
    waveforms = []
    for path in wav_paths:
        audio, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
        if file_rate != rate:
            raise ValueError(f"{path} is sampled at {file_rate} Hz; the model takes {rate} Hz: resample it first.")
        waveforms.append(audio.mean(axis=1))
    lengths = np.array([len(w) for w in waveforms], dtype=np.int64)
    batch = np.zeros((len(waveforms), lengths.max()), dtype=np.float32)
    for row, waveform in zip(batch, waveforms):
        row[: len(waveform)] = waveform
    (probabilities,) = session.run(["probabilities"], {"waveforms": batch, "lengths": lengths})
    return [labels[i] for i in probabilities.argmax(axis=1)], probabilities


def make_demo_model(folder):
    """Fit and export a small SVM on a synthetic corpus (this part needs sklearn-ser); the model and a WAV file."""
    from sklearn_ser.datasets import make_synthetic_corpus
    from sklearn_ser.export import to_onnx
    from sklearn_ser.recipes import get_recipe

    corpus = make_synthetic_corpus(Path(folder) / "corpus", n_speakers=2, n_words=3, random_state=0)
    model = get_recipe("svm-mfcc", probability=True, random_state=0).fit(corpus["path"][1:], corpus["label"][1:])
    to_onnx(model, Path(folder) / "model.onnx")
    return Path(folder) / "model.onnx", corpus["path"].iloc[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Classify WAV files with an exported ONNX model.")
    parser.add_argument("wav", nargs="*", help="WAV files at the model's sampling rate")
    parser.add_argument("--model", help="the .onnx file written by 'sklearn-ser export'")
    parser.add_argument("--quick", action="store_true", help="fit and export a tiny model on a synthetic corpus first")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        if args.quick or not args.model:
            model, wav = make_demo_model(folder)
            wavs = args.wav or [wav]
        else:
            model, wavs = args.model, args.wav
        labels, probabilities = classify(model, wavs)
    for path, label, row in zip(wavs, labels, probabilities):
        print(f"{Path(path).name}: predicted {label} (probability {row.max():.2f})")
    return labels[0]


if __name__ == "__main__":
    main()
