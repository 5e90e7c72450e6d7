"""What per-speaker recipes lose when they predict a new speaker without speaker ids.

``svm-best`` and ``lstm-best`` (= ``best``) standardize features per speaker
(``SpeakerNormalizer``). Given the new speaker's id at prediction, they
standardize its utterances by their own statistics, as in training; without
it, sequences are standardized per utterance and tables with the training
statistics (with a warning). Under the speaker protocol (TESS: train on one
speaker, test on the other; the synthetic corpus of ``sklearn-ser demo``:
leave one speaker out), each fold's model predicts its test speaker both
ways. Deep recipes run once per seed. Run:

    python benchmarks/speaker_ids_at_prediction.py --out results.jsonl [--seeds 0 1 2]
    python benchmarks/speaker_ids_at_prediction.py --out results.jsonl --table

One JSON line per recipe, corpus and seed, written atomically; a rerun skips
what is done.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import sklearn
from sequence_selection import append_row, benchmark_parser, load, read_rows, run_or_print_table
from sklearn.metrics import balanced_accuracy_score

from sklearn_ser._cache import default_cache_dir
from sklearn_ser._routing import consumed
from sklearn_ser.datasets import corpus_arrays
from sklearn_ser.model_selection import protocol_split
from sklearn_ser.recipes import get_recipe

#: recipe -> whether it is deep (one run per seed).
RECIPES = {"svm-best": False, "lstm-best": True}


def both_ways(recipe, corpus, seed, memory):
    """Balanced accuracy per fold, predicting the test speaker with and without its speaker id."""
    X, y, metadata = corpus_arrays(corpus)
    cv, groups = protocol_split(corpus, "speaker")
    options = {"memory": memory, "n_jobs": -1, **({"random_state": seed} if seed is not None else {})}
    scores = {"with_speaker_ids": [], "without_speaker_ids": []}
    for train, test in cv.split(X, y, groups):
        pipeline = get_recipe(recipe, **options)
        with sklearn.config_context(enable_metadata_routing=True):
            pipeline.fit(X[train], y[train], **consumed(pipeline, "fit", metadata, train))
            with_ids = pipeline.predict(X[test], **consumed(pipeline, "predict", metadata, test))
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="SpeakerNormalizer was fitted per speaker")
                without_ids = pipeline.predict(X[test])
        scores["with_speaker_ids"].append(float(balanced_accuracy_score(y[test], with_ids)))
        scores["without_speaker_ids"].append(float(balanced_accuracy_score(y[test], without_ids)))
    return scores


def run(args):
    cache_dir = Path(args.cache_dir or default_cache_dir())
    finished = {(row["recipe"], row["corpus"], row["seed"]) for row in read_rows(args.out)}
    for corpus_name in args.corpora:
        corpus = load(corpus_name, cache_dir, args.tess_root)
        for recipe, deep in RECIPES.items():
            for seed in args.seeds if deep else [None]:
                if (recipe, corpus_name, seed) in finished:
                    continue
                row = {"recipe": recipe, "corpus": corpus_name, "seed": seed}
                row.update(both_ways(recipe, corpus, seed, cache_dir / "features"))
                append_row(args.out, row)


def print_table(out):
    """Per recipe and corpus: mean balanced accuracy over folds and seeds, with and without speaker ids."""
    rows = read_rows(out)
    print("| recipe | corpus | runs | with speaker ids | without |")
    print("|---|---|---:|---:|---:|")
    for recipe in dict.fromkeys(row["recipe"] for row in rows):
        for corpus in sorted({row["corpus"] for row in rows}, reverse=True):
            chosen = [row for row in rows if (row["recipe"], row["corpus"]) == (recipe, corpus)]
            if chosen:
                with_ids, without = (
                    100 * np.mean([np.mean(row[key]) for row in chosen])
                    for key in ("with_speaker_ids", "without_speaker_ids")
                )
                print(f"| {recipe} | {corpus} | {len(chosen)} | {with_ids:.1f}% | {without:.1f}% |")


def main():
    run_or_print_table(benchmark_parser(__doc__.split("\n\n")[0]), run, print_table)


if __name__ == "__main__":
    main()
