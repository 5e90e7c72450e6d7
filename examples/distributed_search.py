"""
One search, several workers
===========================

Several processes run ``sklearn-ser search`` with the same ``--storage`` and
``--study``: they share one Optuna study, each drawing new trials with the
others' results in view, and all stop once the study holds ``--n-trials``
finished trials. Here the workers are processes on this machine sharing a
journal file (``journal:PATH``); across machines, give every worker the same
PostgreSQL URL instead (``--storage postgresql://user:password@host/db``). A
worker that is stopped loses no finished trial: run the command again and
the study continues.

    python examples/distributed_search.py --workers 2
    python examples/distributed_search.py --corpus tess:../shared/data/tess --workers 4
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.model_selection import make_storage


def main(argv=None):
    parser = argparse.ArgumentParser(description="Several search workers sharing one study.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--recipe", default="lstm-logmel", help="recipe to search (default: lstm-logmel)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default: 2)")
    parser.add_argument("--n-trials", type=int, default=12, help="finished trials the study should hold")
    parser.add_argument("--max-epochs", type=int, default=20, help="most epochs a trial trains (default: 20)")
    parser.add_argument("--quick", action="store_true", help="a tiny corpus, 4 trials of 2 epochs, for a smoke test")
    args = parser.parse_args(argv)
    n_trials, max_epochs = (4, 2) if args.quick else (args.n_trials, args.max_epochs)

    with tempfile.TemporaryDirectory() as workdir:
        corpus = args.corpus
        if corpus is None:
            size = dict(n_speakers=2, n_words=3) if args.quick else dict(n_speakers=4, n_words=20)
            make_synthetic_corpus(Path(workdir) / "corpus", **size, random_state=0)
            corpus = f"synthetic:{Path(workdir) / 'corpus'}"
        storage = f"journal:{Path(workdir) / 'study.log'}"
        command = [
            sys.executable, "-m", "sklearn_ser.cli", "search", "--corpus", corpus, "--recipe", args.recipe,
            "--storage", storage, "--study", "shared", "--n-trials", str(n_trials),
            "--max-epochs", str(max_epochs), "--cache-dir", workdir,
        ]  # fmt: skip
        workers = [subprocess.Popen(command, stdout=subprocess.DEVNULL) for _ in range(args.workers)]
        failed = [worker.args for worker in workers if worker.wait() != 0]
        if failed:
            raise RuntimeError(f"{len(failed)} worker(s) failed; run {' '.join(command)} to see why.")
        study = optuna.load_study(study_name="shared", storage=make_storage(storage))
        trials = [trial for trial in study.trials if trial.state.is_finished()]
        best = study.best_trial

    by_worker = {}
    for trial in trials:
        by_worker.setdefault(trial.user_attrs["worker"], []).append(trial.number)
    print(f"{len(trials)} finished trials from {len(by_worker)} workers:")
    for worker, numbers in by_worker.items():
        print(f"  {worker}: trials {numbers}")
    print(f"best balanced accuracy: {best.value:.3f} with {best.params}")
    return trials


if __name__ == "__main__":
    main()
