"""A pruned Optuna search against GridSearchCV over the same LSTM space.

The "paper-proposed" recipe (MFCC means read as a 40-step sequence into an
LSTM and a dense head) is searched over hidden size, number of LSTM layers
and learning rate, 12 configurations, each cross-validated leave one speaker
out on a synthetic corpus (balanced accuracy; MFCC features are cached and
computed before the searches, so what is measured is training). Four
searches get the same budget of 12 configurations:

* ``GridSearchCV`` over the 12 grid points;
* ``OptunaSearch`` with the same choices, TPE sampler and no pruning;
* ``OptunaSearch`` with TPE and a median pruner, which compares the
  cross-validated learning curve (every epoch's test accuracy averaged over
  the folds, trained in step) with the other trials', from the 3rd epoch on,
  and from the 10th.

Each seed draws another synthetic corpus and seeds the models and samplers.

Compute is counted in training epochs (one epoch on one fold's training
part), which does not depend on the machine or its load (but an epoch of a
two-layer 256-unit LSTM costs about three of a one-layer 64-unit one), and
in CPU seconds of this process (torch runs on one thread), which other
processes on the machine disturb less than wall-clock seconds.
Run:

    python benchmarks/search.py [--corpus KIND:PATH] [--max-epochs 20] [--seeds 0 1]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import optuna
import torch
from sklearn.model_selection import GridSearchCV, LeaveOneGroupOut
from skorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn_ser._predict import load_corpora  # noqa: E402
from sklearn_ser.datasets import make_synthetic_corpus  # noqa: E402
from sklearn_ser.model_selection import OptunaSearch  # noqa: E402
from sklearn_ser.recipes import get_recipe  # noqa: E402

HIDDEN_SIZES = [64, 256]
NUM_LAYERS = [1, 2]
LEARNING_RATES = [1e-3, 3e-3, 1e-2]
WARMUP_EPOCHS = [3, 10]
EPOCHS_TRAINED = {"count": 0}


class CountEpochs(Callback):
    """Counts every epoch trained in this process (clones share the counter)."""

    def on_epoch_end(self, net, **kwargs):
        EPOCHS_TRAINED["count"] += 1


def grid_space(trial):
    return {
        "lstm__hidden_size": trial.suggest_categorical("lstm__hidden_size", HIDDEN_SIZES),
        "lstm__num_layers": trial.suggest_categorical("lstm__num_layers", NUM_LAYERS),
        "lstm__lr": trial.suggest_categorical("lstm__lr", LEARNING_RATES),
    }


def measure(name, search, X, y, groups):
    EPOCHS_TRAINED["count"] = 0
    start, start_cpu = time.perf_counter(), time.process_time()
    search.fit(X, y, groups=groups)
    row = {
        "search": name,
        "best": search.best_score_,
        "epochs": EPOCHS_TRAINED["count"],
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - start_cpu,
    }
    if hasattr(search, "study_"):
        states = [trial.state for trial in search.study_.trials]
        row["pruned"] = states.count(optuna.trial.TrialState.PRUNED)
        row["configurations"] = len({tuple(sorted(t.params.items())) for t in search.study_.trials})
    else:
        row["pruned"] = 0
        row["configurations"] = len(search.cv_results_["params"])
    print(f"{name}: {row}", flush=True)
    return row


def searches(pipeline, grid, cv, n_configurations, seed):
    """The four searches compared, each with the budget of the grid's configurations."""
    common = dict(n_trials=n_configurations, cv=cv, scoring="balanced_accuracy", random_state=seed, refit=False)
    yield "GridSearchCV", GridSearchCV(pipeline, grid, cv=cv, scoring="balanced_accuracy", refit=False)
    yield "TPE, no pruning", OptunaSearch(pipeline, grid_space, pruner=optuna.pruners.NopPruner(), **common)
    for warmup in WARMUP_EPOCHS:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=warmup)
        yield f"TPE, median pruner after {warmup} epochs", OptunaSearch(pipeline, grid_space, pruner=pruner, **common)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=None, help="KIND:PATH (default: a synthetic corpus, 4 speakers x 10 words)")
    parser.add_argument("--max-epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="one run per seed (corpus and models)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = {"lstm__hidden_size": HIDDEN_SIZES, "lstm__num_layers": NUM_LAYERS, "lstm__lr": LEARNING_RATES}
    n_configurations = len(list(itertools.product(*grid.values())))
    cv = LeaveOneGroupOut()
    rows = []
    for seed in args.seeds:
        workdir = Path(tempfile.mkdtemp(prefix="sklearn-ser-search-"))
        if args.corpus:
            corpus = load_corpora([args.corpus])
        else:
            corpus = make_synthetic_corpus(workdir / "corpus", n_speakers=4, n_words=10, random_state=seed)
        X, y = corpus["path"].to_numpy(dtype=object), corpus["label"].to_numpy(dtype=object)
        groups = corpus["speaker"].to_numpy(dtype=object)
        pipeline = get_recipe(
            "paper-proposed",
            max_epochs=args.max_epochs,
            memory=workdir / "features",
            random_state=seed,
            device="cpu",
            lstm__callbacks=[("count_epochs", CountEpochs())],
        )
        pipeline[:1].fit_transform(X)  # fill the feature cache: the searches measure training
        print(f"seed {seed}: {len(X)} files, {len(set(groups))} speakers, {n_configurations} configurations, "
              f"{args.max_epochs} epochs, leave one speaker out", flush=True)  # fmt: skip
        full = n_configurations * cv.get_n_splits(groups=groups) * args.max_epochs
        for name, search in searches(pipeline, grid, cv, n_configurations, seed):
            rows.append({"seed": seed, **measure(name, search, X, y, groups), "full": full})
    header = "| seed | search | configurations | pruned | best UAR | epochs | share of the grid's | CPU s | s |"
    print(f"\n{header}\n|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['seed']} | {row['search']} | {row['configurations']} | {row['pruned']} | {row['best']:.3f} "
              f"| {row['epochs']} | {row['epochs'] / row['full']:.0%} | {row['cpu_seconds']:.0f} "
              f"| {row['seconds']:.0f} |")  # fmt: skip
    return rows


if __name__ == "__main__":
    main()
