"""Speaker-independent comparison of sequence-model candidates on TESS and the synthetic corpus.

The candidates for the ``lstm-best`` and ``fusion`` recipes (and the SVM
references) are evaluated with :func:`sklearn_ser.evaluation.evaluate` under
the speaker protocol: on TESS, train on one speaker and test on the other,
both ways; on the synthetic corpus (4 speakers x 20 words x 7 emotions,
seed 0, the corpus of ``sklearn-ser demo``), leave one speaker out. Deep
candidates run once per seed (the seed is their ``random_state``); the
others once. Every evaluation appends one JSON line to ``--out``, and a
rerun skips what the file already holds, so a long comparison can be
stopped and continued. ``--table`` prints the mean and standard deviation
over seeds of the balanced accuracy (unweighted average recall) and the fit
time per fold. Run:

    python benchmarks/sequence_selection.py --out results.jsonl [--corpora tess synthetic]
        [--candidates lstm-logmel svm-mfcc] [--seeds 0 1 2] [--max-epochs N]
    python benchmarks/sequence_selection.py --out results.jsonl --table

The rows measured so far are kept in ``docs/results/sequence_selection.jsonl``;
pass it as ``--out`` to continue them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from sklearn_ser._cache import default_cache_dir
from sklearn_ser._files import write_text_atomically
from sklearn_ser.datasets import load_synthetic, load_tess, make_synthetic_corpus
from sklearn_ser.evaluation import evaluate
from sklearn_ser.recipes import get_recipe

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_TESS = REPOSITORY.parent / "shared" / "data" / "tess"

#: segment-lstm over MFCC and eGeMAPS descriptors, normalized per speaker; and with 128 units (the first lstm-best).
BOTH_PER_SPEAKER = {"features": "mfcc+egemaps", "speaker_normalization": True}
BOTH_128_UNITS = {**BOTH_PER_SPEAKER, "lstm__hidden_size": 128}

#: lstm-best without the utterance functionals, over half-second segments: the lstm-best before the functionals.
SEGMENTS_ONLY = {
    "features__utterance": "drop",
    "features__segments__segments__segment_frames": 50,
    "features__segments__segments__segment_hop": 25,
}

#: the fusion with that LSTM as its member.
FUSION_SEGMENTS_ONLY = {f"fusion__lstm__{key}": value for key, value in SEGMENTS_ONLY.items()}

#: name -> (recipe, overrides, deep): deep candidates are evaluated once per seed.
CANDIDATES = {
    "svm-mfcc": ("svm-mfcc", {}, False),
    "svm-mfcc+spk": ("svm-mfcc", {"speaker_normalization": True}, False),
    "svm-best": ("svm-best", {}, False),
    "lstm-logmel": ("lstm-logmel", {}, True),
    "lstm-logmel+spk": ("lstm-logmel", {"speaker_normalization": True}, True),
    "lstm-logmel+spk+mixup": ("lstm-logmel", {"speaker_normalization": True, "lstm__mixup_alpha": 0.2}, True),
    "lstm-logmel+spk+masks+mixup": (
        "lstm-logmel",
        {
            "speaker_normalization": True,
            "lstm__mixup_alpha": 0.2,
            "lstm__time_masks": 2,
            "lstm__freq_masks": 2,
            "lstm__freq_mask_blocks": 3,
        },
        True,
    ),
    "crnn-logmel+spk": ("crnn-logmel", {"speaker_normalization": True}, True),
    "segment-lstm+spk": ("segment-lstm", {"speaker_normalization": True}, True),
    "segment-lstm-egemaps+spk": ("segment-lstm", {"features": "egemaps", "speaker_normalization": True}, True),
    "segment-lstm-both+spk": ("segment-lstm", BOTH_PER_SPEAKER, True),
    "segment-lstm-both+spk+h64": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__hidden_size": 64},
        True,
    ),
    "segment-lstm-both+spk+1s": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "segment_frames": 100, "segment_hop": 50},
        True,
    ),
    "segment-lstm-both+spk+1s+h64": (
        "segment-lstm",
        {
            **BOTH_PER_SPEAKER,
            "segment_frames": 100,
            "segment_hop": 50,
            "lstm__hidden_size": 64,
        },
        True,
    ),
    "segment-lstm-both+spk+segnorm": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "segment_normalization": True},
        True,
    ),
    "segment-lstm-both+spk+segnorm+h64": (
        "segment-lstm",
        {
            **BOTH_PER_SPEAKER,
            "segment_normalization": True,
            "lstm__hidden_size": 64,
        },
        True,
    ),
    "segment-lstm-both+spk+h128": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__hidden_size": 128},
        True,
    ),
    "segment-lstm-both+spk+h256": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__hidden_size": 256},
        True,
    ),
    "segment-lstm-both+spk+1s+h128": (
        "segment-lstm",
        {
            **BOTH_PER_SPEAKER,
            "segment_frames": 100,
            "segment_hop": 50,
            "lstm__hidden_size": 128,
        },
        True,
    ),
    "segment-lstm-both+spk+h128+60epochs": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__hidden_size": 128, "max_epochs": 60},
        True,
    ),
    "segment-lstm-both+spk+h128+dropout0.3": ("segment-lstm", {**BOTH_128_UNITS, "lstm__dropout": 0.3}, True),
    "segment-lstm-both+spk+h128+2layers": ("segment-lstm", {**BOTH_128_UNITS, "lstm__num_layers": 2}, True),
    "segment-lstm-both+spk+h128+batch16": ("segment-lstm", {**BOTH_128_UNITS, "batch_size": 16}, True),
    "segment-lstm-both+spk+h128+head64": ("segment-lstm", {**BOTH_128_UNITS, "lstm__head": (64,)}, True),
    "segment-lstm-both+spk+h128+max-pooling": ("segment-lstm", {**BOTH_128_UNITS, "lstm__pooling": "max"}, True),
    "segment-lstm-both+spk+h128+lr3e-3": ("segment-lstm", {**BOTH_128_UNITS, "lr": 3e-3}, True),
    "segment-lstm-both+spk+h64+60epochs": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__hidden_size": 64, "max_epochs": 60},
        True,
    ),
    "segment-lstm-both+spk+h64+minmax": (
        "segment-lstm",
        {
            **BOTH_PER_SPEAKER,
            "lstm__hidden_size": 64,
            "segments__stats": ("mean", "std", "min", "max"),
        },
        True,
    ),
    "segment-lstm-both+spk+slope": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "segments__stats": ("mean", "std", "slope")},
        True,
    ),
    "segment-lstm-both+spk+attention": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__pooling": "attention"},
        True,
    ),
    "segment-lstm-both+spk+mixup": (
        "segment-lstm",
        {**BOTH_PER_SPEAKER, "lstm__mixup_alpha": 0.2},
        True,
    ),
    "lstm-mfcc+spk": ("lstm-mfcc", {"speaker_normalization": True}, True),
    "lstm-mfcc+spk+mixup": ("lstm-mfcc", {"speaker_normalization": True, "lstm__mixup_alpha": 0.2}, True),
    "lstm-egemaps": ("lstm-egemaps", {}, True),
    "lstm-egemaps+spk": ("lstm-egemaps", {"speaker_normalization": True}, True),
    "lstm-egemaps+spk+mixup": ("lstm-egemaps", {"speaker_normalization": True, "lstm__mixup_alpha": 0.2}, True),
    "lstm-compare+spk": ("lstm-egemaps", {"feature_set": "ComParE_2016", "speaker_normalization": True}, True),
    "lstm-best": ("lstm-best", {}, True),
    "lstm-best-as-segment-lstm-both+spk+h128": ("lstm-best", SEGMENTS_ONLY, True),
    "lstm-best-without-functionals": ("lstm-best", {"features__utterance": "drop"}, True),
    "lstm-best-half-second": (
        "lstm-best",
        {"features__segments__segments__segment_frames": 50, "features__segments__segments__segment_hop": 25},
        True,
    ),
    "svm-best+probability": ("svm-best", {"probability": True}, False),
    "fusion": ("fusion", {}, True),
    "fusion+balanced-accuracy": ("fusion", {"fusion__scoring": "balanced_accuracy"}, True),
    "fusion+equal-weights": ("fusion", {"fusion__weights": None}, True),
    "fusion-segments-only": ("fusion", FUSION_SEGMENTS_ONLY, True),
    "fusion-segments-only+balanced-accuracy": (
        "fusion",
        {**FUSION_SEGMENTS_ONLY, "fusion__scoring": "balanced_accuracy"},
        True,
    ),
    "fusion-segments-only+equal-weights": ("fusion", {**FUSION_SEGMENTS_ONLY, "fusion__weights": None}, True),
}


def load(corpus, cache_dir, tess_root):
    if corpus == "tess":
        return load_tess(tess_root)
    root = Path(cache_dir) / "synthetic-selection-4spk-20w-seed0"
    if (root / "manifest.csv").exists():
        return load_synthetic(root)
    return make_synthetic_corpus(root, n_speakers=4, n_words=20, random_state=0)


def evaluate_candidate(name, corpus, seed, *, memory, max_epochs, device):
    recipe, overrides, deep = CANDIDATES[name]
    options = {**overrides, "memory": memory, "n_jobs": -1}
    if deep:
        options.update(random_state=seed, device=device)
        if max_epochs is not None:
            options["max_epochs"] = max_epochs
    start = time.perf_counter()
    result = evaluate(get_recipe(recipe, **options), corpus, protocol="speaker", scoring=("balanced_accuracy",))
    return {
        "balanced_accuracy": float(np.mean(result.scores["balanced_accuracy"])),
        "per_fold": [float(score) for score in result.scores["balanced_accuracy"]],
        "fit_seconds_per_fold": float(np.mean(result.fit_seconds)),
        "seconds": time.perf_counter() - start,
    }


def read_rows(out):
    """The rows of ``out`` (none if it does not exist)."""
    if not Path(out).exists():
        return []
    return [json.loads(line) for line in Path(out).read_text().splitlines() if line.strip()]


def append_row(out, row):
    """Print ``row`` and append it to the JSON lines file ``out``, rewritten atomically."""
    print(json.dumps(row), flush=True)
    write_text_atomically(out, "".join(f"{json.dumps(r)}\n" for r in [*read_rows(out), row]))


def benchmark_parser(description):
    """The options every speaker-protocol benchmark of this folder shares: --out, --corpora, --seeds, ..."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", required=True, help="JSON lines file: appended to, and read to skip what is done")
    parser.add_argument("--corpora", nargs="+", default=["tess", "synthetic"], choices=["tess", "synthetic"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tess-root", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    parser.add_argument("--cache-dir", default=None, help="features and the synthetic corpus (default: the cache)")
    parser.add_argument("--table", action="store_true", help="print the table of --out and stop")
    return parser


def run_or_print_table(parser, run, print_table):
    """Parse the command line, then print the table of --out (with --table) or run."""
    args = parser.parse_args()
    if args.table:
        print_table(args.out)
    else:
        run(args)


def done(out):
    return {(row["candidate"], row["corpus"], row["seed"]) for row in read_rows(out)}


def run(args):
    cache_dir = Path(args.cache_dir or default_cache_dir())
    memory = cache_dir / "features"
    finished = done(args.out)
    for corpus_name in args.corpora:
        corpus = load(corpus_name, cache_dir, args.tess_root)
        for name in args.candidates:
            seeds = args.seeds if CANDIDATES[name][2] else [None]
            for seed in seeds:
                if (name, corpus_name, seed) in finished:
                    continue
                row = {"candidate": name, "corpus": corpus_name, "seed": seed, "max_epochs": args.max_epochs}
                row.update(
                    evaluate_candidate(
                        name, corpus, seed, memory=memory, max_epochs=args.max_epochs, device=args.device
                    )
                )
                row["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
                row["load_average"] = round(os.getloadavg()[0], 1)
                append_row(args.out, row)


def print_table(out):
    """Markdown table of ``out``: per corpus, mean ± sd over seeds of the balanced accuracy; the mean of both."""
    rows = read_rows(out)
    corpora = sorted({row["corpus"] for row in rows}, reverse=True)
    header = " | ".join(f"{corpus}: UAR, mean ± sd (seeds) | fit s/fold" for corpus in corpora)
    print(f"| candidate | {header} | mean |")
    print("|---|" + "---:|---:|" * len(corpora) + "---:|")
    for name in dict.fromkeys(row["candidate"] for row in rows):
        cells, means = [], []
        for corpus in corpora:
            chosen = [row for row in rows if (row["candidate"], row["corpus"]) == (name, corpus)]
            if not chosen:
                cells += ["", ""]
                continue
            scores = 100 * np.array([row["balanced_accuracy"] for row in chosen])
            means.append(scores.mean())
            spread = f" ± {scores.std():.1f} ({len(scores)})" if len(scores) > 1 else ""
            cells += [f"{scores.mean():.1f}%{spread}", f"{np.mean([r['fit_seconds_per_fold'] for r in chosen]):.0f}"]
        mean = f"{np.mean(means):.1f}%" if len(means) == len(corpora) else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {mean} |")


def main():
    parser = benchmark_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=list(CANDIDATES))
    parser.add_argument("--max-epochs", type=int, default=None, help="override the deep recipes' epochs")
    parser.add_argument("--device", default="auto")
    run_or_print_table(parser, run, print_table)


if __name__ == "__main__":
    main()
