"""CRNN (CNN + LSTM) against the ``lstm-logmel`` recipe on the synthetic corpus, leaving one speaker out.

Both pipelines read the same standardized 64-band log-Mel with deltas and
delta-deltas (cached, and extracted once before any timing); they differ in
the classifier. The CRNN reads the static, delta and delta-delta blocks as
three input channels of its CNN and feeds the LSTM of the recipe (128 units,
bidirectional, attention, a 64-unit dense layer). Each model is evaluated
once per seed (the seed is the classifier's ``random_state``; the folds stay
the same), and the table gives the mean and standard deviation over seeds of
the balanced accuracy (mean over the speaker folds) and the seconds of
training and prediction per fold. Run:

    python benchmarks/crnn.py [--n-speakers 4] [--n-words 10] [--seeds 0 1 2] [--max-epochs 8]
        [--conv-channels 16 32] [--pool-time 2] [--device cpu] [--threads 1] [--json rows.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.evaluation import evaluate
from sklearn_ser.features import DeltaStack, MelSpectrogram, SequenceScaler
from sklearn_ser.models import CRNNClassifier
from sklearn_ser.recipes import get_recipe


def crnn_pipeline(args, seed, cache):
    crnn = CRNNClassifier(
        conv_channels=tuple(args.conv_channels),
        pool_time=args.pool_time,
        pool_freq=2,
        feature_blocks=3,
        conv_dropout=0.2,
        hidden_size=128,
        bidirectional=True,
        pooling="attention",
        head=(64,),
        dropout=0.3,
        max_epochs=args.max_epochs,
        device=args.device,
        random_state=seed,
    )
    return Pipeline(
        [
            ("mel", MelSpectrogram(n_mels=64, memory=cache)),
            ("delta", DeltaStack(order=2)),
            ("scale", SequenceScaler()),
            ("crnn", crnn),
        ]
    )


def lstm_pipeline(args, seed, cache):
    return get_recipe("lstm-logmel", max_epochs=args.max_epochs, device=args.device, random_state=seed, memory=cache)


MODELS = {"crnn": crnn_pipeline, "lstm-logmel": lstm_pipeline}


def evaluate_model(name, corpus, args, seed, cache):
    """One row: balanced accuracy (mean over folds) and seconds per fold of one model and seed."""
    start = time.perf_counter()
    result = evaluate(MODELS[name](args, seed, cache), corpus, protocol="speaker", scoring=("balanced_accuracy",))
    n_folds = len(result.scores["balanced_accuracy"])
    return {
        "model": name,
        "seed": seed,
        "balanced_accuracy": float(np.mean(result.scores["balanced_accuracy"])),
        "fold_balanced_accuracy": [round(float(score), 4) for score in result.scores["balanced_accuracy"]],
        "fit_seconds_per_fold": float(np.mean(result.fit_seconds)),
        "seconds_per_fold": (time.perf_counter() - start) / n_folds,
    }


def summary(rows):
    """Markdown table: mean ± std over seeds per model."""
    lines = [
        "| model | seeds | balanced accuracy | fit s / fold | fit + predict s / fold |",
        "|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(row["model"] for row in rows):
        mine = [row for row in rows if row["model"] == name]
        cells = [
            f"{np.mean(values):.3f} ± {np.std(values):.3f}"
            for values in (
                [row["balanced_accuracy"] for row in mine],
                [row["fit_seconds_per_fold"] for row in mine],
                [row["seconds_per_fold"] for row in mine],
            )
        ]
        lines.append(f"| {name} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="corpus folder (default: a temporary one)")
    parser.add_argument("--n-speakers", type=int, default=4)
    parser.add_argument("--n-words", type=int, default=10)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["crnn", "lstm-logmel"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--conv-channels", nargs="+", type=int, default=[16, 32])
    parser.add_argument("--pool-time", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: on shared cores more threads wait on each other)"
    )
    parser.add_argument("--json", type=Path, help="also write the rows here")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root or Path(scratch) / "corpus"
        corpus = make_synthetic_corpus(root, n_speakers=args.n_speakers, n_words=args.n_words, random_state=0)
        cache = Path(scratch) / "cache"
        MelSpectrogram(n_mels=64, memory=cache).fit_transform(corpus["path"])  # extraction is not what is timed
        print(
            f"{len(corpus)} utterances, {args.n_speakers} speakers; torch {torch.__version__}, "
            f"{torch.get_num_threads()} threads, {platform.processor() or platform.machine()}"
        )
        rows = []
        for name in args.models:
            for seed in args.seeds:
                row = evaluate_model(name, corpus, args, seed, cache)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(summary(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
