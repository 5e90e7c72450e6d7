"""ONNX export: per-utterance latency of onnxruntime against the Python pipeline, and file sizes.

Each covered recipe is fitted at its own size (only the epochs are cut:
latency does not depend on them) on a small synthetic corpus, exported with
:func:`sklearn_ser.export.to_onnx`, and both are timed on 2-second
utterances one at a time, with one thread (torch, BLAS and onnxruntime):
the Python pipeline's ``predict_proba([waveform])`` against one
``session.run`` of the graph on the same waveform. The table gives the
median milliseconds per utterance, the ``.onnx`` file against the joblib
file, and the largest difference of the probabilities. ``ssl-best`` runs a
randomly initialised encoder of Whisper base's size (no download; the cost
of the real one), its SpeakerNormalizer as predict runs it without speaker
ids. Run:

    python benchmarks/onnx_export.py [--repeats 30] [--recipes svm-mfcc lstm-logmel] [--json rows.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import onnxruntime
import soundfile as sf
import torch
from threadpoolctl import threadpool_limits

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.export import to_onnx
from sklearn_ser.recipes import get_recipe

RECIPES = {
    "svm-mfcc": dict(probability=True, random_state=0),
    "paper-proposed": dict(max_epochs=2, device="cpu", random_state=0),
    "paper-traditional": dict(max_epochs=2, device="cpu", random_state=0),
    "lstm-logmel": dict(max_epochs=2, device="cpu", random_state=0),
    "crnn-logmel": dict(max_epochs=2, device="cpu", random_state=0),
    "ssl-best": dict(device="cpu"),
}

#: Whisper base's encoder (openai/whisper-base): 6 layers of 512 units, 8 heads, 80 Mel bands.
WHISPER_BASE = dict(d_model=512, encoder_layers=6, encoder_attention_heads=8, encoder_ffn_dim=2048, num_mel_bins=80)


def whisper_base_sized(folder):
    """A randomly initialised encoder of Whisper base's size (the cost of the real one, offline), saved in ``folder``.

    Only the encoder is run; the decoder is kept tiny.
    """
    import transformers

    config = transformers.WhisperConfig(
        **WHISPER_BASE,
        decoder_layers=1,
        decoder_attention_heads=2,
        decoder_ffn_dim=8,
        vocab_size=8,
        max_target_positions=8,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    transformers.WhisperModel(config).save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return str(folder)


def median_ms(run, waveforms, repeats):
    run(waveforms[0])  # warm up
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(waveforms[i % len(waveforms)])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(1):
        corpus = make_synthetic_corpus(Path(folder) / "corpus", n_speakers=2, n_words=4, random_state=0)
        train = [sf.read(path, dtype="float32")[0] for path in corpus["path"]]
        joined = np.concatenate(train)
        utterances = [np.resize(np.roll(joined, -5000 * i), 32000).astype(np.float32) for i in range(10)]
        for name in args.recipes:
            options = dict(RECIPES[name])
            if name.startswith("ssl"):
                options["model"] = whisper_base_sized(Path(folder) / "whisper-base-sized")
            model = get_recipe(name, **options).fit(train, corpus["label"])
            onnx_path, joblib_path = Path(folder) / f"{name}.onnx", Path(folder) / f"{name}.joblib"
            to_onnx(model, onnx_path, speaker_normalizer="without-speaker-ids")
            joblib.dump(model, joblib_path)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

            def run_onnx(w, session=session):
                return session.run(None, {"waveforms": w[None, :], "lengths": np.array([len(w)], dtype=np.int64)})[0]

            def run_python(w, model=model):
                return model.predict_proba([w])

            difference = max(float(np.abs(run_onnx(w) - run_python(w)).max()) for w in utterances)
            row = {
                "recipe": name,
                "python_ms": median_ms(run_python, utterances, args.repeats),
                "onnx_ms": median_ms(run_onnx, utterances, args.repeats),
                "onnx_mb": onnx_path.stat().st_size / 1e6,
                "joblib_mb": joblib_path.stat().st_size / 1e6,
                "max_abs_difference": difference,
            }
            rows.append(row)
            print(
                f"{name:18} python {row['python_ms']:7.2f} ms  onnxruntime {row['onnx_ms']:7.2f} ms  "
                f"({row['python_ms'] / row['onnx_ms']:.1f}x)  .onnx {row['onnx_mb']:6.2f} MB  "
                f".joblib {row['joblib_mb']:6.2f} MB  max |diff| {difference:.1e}",
                flush=True,
            )
    print(
        f"2-second utterances, one at a time, 1 thread; {platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
