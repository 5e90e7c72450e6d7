"""Cost of speech embeddings per utterance: Whisper's trimmed and padded input, against the handcrafted features.

Every configuration transforms the same TESS files (every ``--every``-th
file, 1.3-3 s utterances, FLAC at 24.4 kHz, decoded and resampled as in
use) from paths, with ``--n-jobs`` threads and no feature cache, after one
warm-up call; the figure is the wall time divided by the number of files.
Configurations: ``SpeechEmbedder`` with Whisper base (``--model``) on its
trimmed and padded input, with all hidden states averaged (``layer="mean"``,
every layer run) and with one hidden state (``layer=1`` as ``ssl-best``, one
layer run when trimmed; ``layer=2``, two); and, for scale, the features of
``svm-mfcc`` (MFCC statistics) and of ``svm-best`` (MFCC statistics and
eGeMAPS functionals). Run:

    python benchmarks/speech_embedding_cost.py --model ~/.cache/sklearn-ser-models/whisper-base \\
        [--every 14] [--n-jobs 2] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import soundfile
from sequence_selection import DEFAULT_TESS

from sklearn_ser.datasets import load_tess
from sklearn_ser.features import SpeechEmbedder
from sklearn_ser.recipes import get_recipe


def configurations(model, n_jobs):
    speech = dict(model=model, device="cpu", n_jobs=n_jobs)
    return {
        "whisper trimmed, layer='mean'": SpeechEmbedder(**speech, layer="mean"),
        "whisper trimmed, layer=1, mean+std (ssl-best)": SpeechEmbedder(**speech, layer=1, pooling="mean+std"),
        "whisper trimmed, layer=2, mean+std": SpeechEmbedder(**speech, layer=2, pooling="mean+std"),
        "whisper padded, layer='mean'": SpeechEmbedder(**speech, layer="mean", whisper_input="padded"),
        "whisper padded, layer=1, mean+std": SpeechEmbedder(
            **speech, layer=1, pooling="mean+std", whisper_input="padded"
        ),
        "svm-mfcc features": get_recipe("svm-mfcc", n_jobs=n_jobs)[:-1],
        "svm-best features": get_recipe("svm-best", n_jobs=n_jobs).named_steps["features"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("SKLEARN_SER_WHISPER_BASE"))
    parser.add_argument("--tess-root", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    parser.add_argument("--every", type=int, default=14, help="take every N-th TESS file (default: 200 files)")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", default=None, help="configurations to run (default: all)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    paths = load_tess(args.tess_root)["path"].tolist()[:: args.every]
    results = []
    for name, transformer in configurations(args.model, args.n_jobs).items():
        if args.only and not any(part in name for part in args.only):
            continue
        transformer.fit(paths[:2])
        transformer.transform(paths[:2])  # imports, first calls
        start = time.perf_counter()
        transformer.transform(paths)
        seconds = (time.perf_counter() - start) / len(paths)
        results.append({"configuration": name, "seconds_per_utterance": seconds, "n_files": len(paths)})
        print(f"{name:48s} {1000 * seconds:8.1f} ms per utterance", flush=True)
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "n_jobs": args.n_jobs,
        "load_average_at_end": os.getloadavg()[0],
        "mean_duration_seconds": float(np.mean([soundfile.info(p).duration for p in paths])),
        "results": results,
    }
    if args.out:
        from sklearn_ser._files import write_text_atomically

        write_text_atomically(args.out, json.dumps(report, indent=2))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
