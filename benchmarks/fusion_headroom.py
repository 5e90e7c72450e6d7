"""How much any weighting of the fusion's two members could gain, judged on the test speakers themselves.

The ``fusion`` recipe chooses its weights by an inner cross-validation of
the training data. This script asks what the best weights could have given:
under the speaker protocol (as ``benchmarks/sequence_selection.py``: TESS
train on one speaker and test on the other; the synthetic corpus of
``sklearn-ser demo``, leave one speaker out) it fits each member of
``get_recipe("fusion")`` once per fold and seed, keeps its test
probabilities, and scores the fused probabilities ``w * lstm + (1 - w) *
svm`` for ``w`` = 0, 0.1, ..., 1 on the test speakers. The weight chosen in
hindsight is an upper bound for any rule that chooses on training data
alone; so is the best weight after re-scaling either member's
probabilities by a temperature (``p ** (1 / T)``, renormalized: a
recalibration). Each member's mean top probability beside its accuracy on
the test speakers tells which one is overconfident across speakers. Run:

    python benchmarks/fusion_headroom.py --out headroom.jsonl [--corpora tess synthetic] [--seeds 0 1 2]
    python benchmarks/fusion_headroom.py --out headroom.jsonl --table

One JSON line per corpus and seed (balanced accuracy for every weight,
averaged over folds), written atomically; a rerun skips what is done.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import sklearn
from scipy.special import softmax
from sequence_selection import append_row, benchmark_parser, load, read_rows, run_or_print_table
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score

from sklearn_ser._cache import default_cache_dir
from sklearn_ser._routing import consumed
from sklearn_ser.datasets import corpus_arrays
from sklearn_ser.model_selection import protocol_split
from sklearn_ser.recipes import get_recipe

WEIGHTS = np.round(np.linspace(0, 1, 11), 1)
#: Temperatures that flatten (above 1) or sharpen (below 1) a member's probabilities before fusing.
SVM_TEMPERATURES = (0.5, 1, 2, 4, 8)
LSTM_TEMPERATURES = (0.25, 0.5, 1, 2, 4)


def tempered(probabilities, temperature):
    """``probabilities ** (1 / temperature)``, renormalized."""
    return softmax(np.log(np.clip(probabilities, 1e-12, 1)) / temperature, axis=1)


def fused_score(lstm, svm, weight, splits, y, classes):
    """Balanced accuracy of ``weight * lstm + (1 - weight) * svm``, averaged over the folds."""
    return float(
        np.mean(
            [
                balanced_accuracy_score(y[test], classes[(weight * p_lstm + (1 - weight) * p_svm).argmax(axis=1)])
                for (_, test), p_lstm, p_svm in zip(splits, lstm, svm)
            ]
        )
    )


def held_out_probabilities(member, X, y, metadata, splits):
    """Each fold's test probabilities of ``member``, fitted on the fold's training utterances."""
    probabilities = []
    with sklearn.config_context(enable_metadata_routing=True):
        for train, test in splits:
            fitted = clone(member).fit(X[train], y[train], **consumed(member, "fit", metadata, train))
            if list(fitted.classes_) != list(np.unique(y)):
                raise ValueError("A training fold lacks a class: the members' columns would not line up.")
            probabilities.append(fitted.predict_proba(X[test], **consumed(member, "predict_proba", metadata, test)))
    return probabilities


def headroom(corpus, seed, memory):
    X, y, metadata = corpus_arrays(corpus)
    cv, groups = protocol_split(corpus, "speaker")
    splits = list(cv.split(X, y, groups))
    fusion = get_recipe("fusion", random_state=seed, memory=memory, n_jobs=-1).named_steps["fusion"]
    members = dict(fusion.estimators)
    lstm = held_out_probabilities(members["lstm"], X, y, metadata, splits)
    svm = held_out_probabilities(members["svm"], X, y, metadata, splits)
    classes = np.unique(y)
    scores = {f"{weight:.1f}": fused_score(lstm, svm, weight, splits, y, classes) for weight in WEIGHTS}
    rescaled = {
        f"{t_svm}|{t_lstm}|{weight:.1f}": fused_score(
            [tempered(p, t_lstm) for p in lstm], [tempered(p, t_svm) for p in svm], weight, splits, y, classes
        )
        for t_svm, t_lstm in itertools.product(SVM_TEMPERATURES, LSTM_TEMPERATURES)
        for weight in WEIGHTS
    }
    confidence = {
        name: float(np.mean(np.concatenate([p.max(axis=1) for p in probabilities])))
        for name, probabilities in (("lstm", lstm), ("svm", svm))
    }
    accuracy = {
        name: float(
            np.mean(
                np.concatenate([classes[p.argmax(axis=1)] == y[test] for (_, test), p in zip(splits, probabilities)])
            )
        )
        for name, probabilities in (("lstm", lstm), ("svm", svm))
    }
    return {
        "balanced_accuracy_by_lstm_weight": scores,
        "balanced_accuracy_by_svm_temperature_lstm_temperature_lstm_weight": rescaled,
        "mean_top_probability": confidence,
        "accuracy": accuracy,
    }


def run(args):
    cache_dir = Path(args.cache_dir or default_cache_dir())
    finished = {(row["corpus"], row["seed"]) for row in read_rows(args.out)}
    for corpus_name in args.corpora:
        corpus = load(corpus_name, cache_dir, args.tess_root)
        for seed in args.seeds:
            if (corpus_name, seed) in finished:
                continue
            row = {"corpus": corpus_name, "seed": seed, **headroom(corpus, seed, cache_dir / "features")}
            append_row(args.out, row)


def print_table(out):
    """Per corpus, mean over seeds: each member alone, equal weights, the best weight in hindsight, confidence."""
    rows = read_rows(out)
    print(
        "| corpus | seeds | svm alone (w=0) | equal (w=0.5) | lstm alone (w=1) | best w in hindsight | its score "
        "| with temperatures (svm, lstm, w) | its score | svm: top probability / accuracy "
        "| lstm: top probability / accuracy |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for corpus in sorted({row["corpus"] for row in rows}, reverse=True):
        chosen = [row["balanced_accuracy_by_lstm_weight"] for row in rows if row["corpus"] == corpus]
        mean = {key: 100 * np.mean([scores[key] for scores in chosen]) for key in chosen[0]}
        best = max(mean, key=mean.get)
        key = "balanced_accuracy_by_svm_temperature_lstm_temperature_lstm_weight"
        tempered_rows = [row[key] for row in rows if row["corpus"] == corpus]
        tempered_mean = {name: 100 * np.mean([scores[name] for scores in tempered_rows]) for name in tempered_rows[0]}
        tempered_best = max(tempered_mean, key=tempered_mean.get)
        calibration = [
            f"{np.mean([row['mean_top_probability'][name] for row in rows if row['corpus'] == corpus]):.2f} / "
            f"{100 * np.mean([row['accuracy'][name] for row in rows if row['corpus'] == corpus]):.1f}%"
            for name in ("svm", "lstm")
        ]
        print(
            f"| {corpus} | {len(chosen)} | {mean['0.0']:.1f}% | {mean['0.5']:.1f}% | {mean['1.0']:.1f}% "
            f"| {best} | {mean[best]:.1f}% | {tempered_best.replace('|', ', ')} | {tempered_mean[tempered_best]:.1f}% "
            f"| {calibration[0]} | {calibration[1]} |"
        )


def main():
    run_or_print_table(benchmark_parser(__doc__.split("\n\n")[0]), run, print_table)


if __name__ == "__main__":
    main()
