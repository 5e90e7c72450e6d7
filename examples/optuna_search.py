"""
Architecture search with Optuna, pruned
=======================================

:class:`~sklearn_ser.model_selection.OptunaSearch` searches the ``lstm-logmel``
recipe's default space: the number of Mel bands and of delta orders, the
LSTM's layers, hidden size, direction, pooling and dense head, dropout,
learning rate, batch size and epochs. Every trial is cross-validated leaving
one speaker out, the folds' LSTMs trained in step; after every epoch their
test accuracy averaged over the folds goes to the default median pruner,
which from half the epochs on stops architectures doing worse than earlier
trials at the same epoch. The search is a classifier: after ``fit`` it
predicts with the best pipeline, refitted on every file. Optuna's figures of
the search (history, parameter importances, per-epoch scores) are written to
``--plots``.

    python examples/optuna_search.py
    python examples/optuna_search.py --corpus tess:../shared/data/tess --n-trials 40
"""

import argparse
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.model_selection import LeaveOneGroupOut  # noqa: E402

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus  # noqa: E402
from sklearn_ser.model_selection import OptunaSearch  # noqa: E402
from sklearn_ser.plotting import plot_search, save_figure  # noqa: E402
from sklearn_ser.recipes import get_recipe  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description="A pruned Optuna search over the lstm-logmel recipe.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--n-trials", type=int, default=20, help="trials of the search (default: 20)")
    parser.add_argument("--max-epochs", type=int, default=30, help="most epochs a trial trains (default: 30)")
    parser.add_argument("--plots", default="search_figures", help="folder for the figures (default: search_figures)")
    parser.add_argument("--quick", action="store_true", help="a tiny corpus, 3 trials of 2 epochs, for a smoke test")
    args = parser.parse_args(argv)
    n_trials, max_epochs = (3, 2) if args.quick else (args.n_trials, args.max_epochs)

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=3) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        pipeline = get_recipe("lstm-logmel", max_epochs=max_epochs, n_jobs=-1, memory=workdir, random_state=0)
        search = OptunaSearch(
            pipeline,
            n_trials=n_trials,
            cv=LeaveOneGroupOut(),
            scoring="balanced_accuracy",
            random_state=0,
        )
        search.fit(corpus["path"], corpus["label"], groups=corpus["speaker"])
        predictions = search.predict(corpus["path"][:5])

    states = [trial.state.name for trial in search.study_.trials]
    print(f"{len(states)} trials: {states.count('COMPLETE')} complete, {states.count('PRUNED')} pruned")
    print(f"best balanced accuracy, leave one speaker out: {search.best_score_:.3f}")
    for name, value in search.best_params_.items():
        print(f"  {name} = {value!r}")
    print(f"predictions of the refitted best pipeline: {list(predictions)}")
    for name, figure in plot_search(search).items():
        print(f"figure: {save_figure(figure, Path(args.plots) / f'search_{name}.png')}")
        plt.close(figure)
    return search


if __name__ == "__main__":
    main()
