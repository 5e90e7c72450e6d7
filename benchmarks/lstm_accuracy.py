"""Accuracy of the LSTM recipes on TESS over several seeds, optionally beside an earlier commit's engine.

Each recipe is evaluated under the paper's likely protocol (one stratified
80/20 split, ``random_state=0``) and the speaker-independent one (trained on
one TESS speaker, tested on the other, both ways), once per seed: the seed is
the recipe's ``random_state`` (weights, batch order, dropout), the split
stays the same. The table gives the mean and standard deviation over seeds of
the accuracy and balanced accuracy (mean over the folds of a protocol), and
the training time.

With ``--baseline REF`` the same evaluations run again with the package of
commit ``REF`` of this repository (checked out into a temporary git
worktree, run in a subprocess), so that two versions of the training engine
are compared on the same splits and seeds. Run:

    python benchmarks/lstm_accuracy.py [TESS_ROOT] [--recipes paper-proposed lstm-logmel]
        [--seeds 0 1 2] [--max-epochs N] [--baseline 8a76b5c]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import StratifiedShuffleSplit

import sklearn_ser
from sklearn_ser.datasets import load_tess
from sklearn_ser.evaluation import evaluate
from sklearn_ser.recipes import get_recipe

REPOSITORY = Path(__file__).resolve().parents[1]
DEFAULT_TESS = REPOSITORY.parent / "shared" / "data" / "tess"
PROTOCOLS = {
    "random 80/20": lambda: StratifiedShuffleSplit(1, test_size=0.2, random_state=0),
    "speaker": lambda: "speaker",
}


def run(tess_root, recipes, seeds, max_epochs, cache, log=print):
    """One row per (recipe, protocol, seed): accuracy, balanced accuracy, fit seconds."""
    corpus = load_tess(tess_root)
    rows = []
    for recipe in recipes:
        for protocol, splitter in PROTOCOLS.items():
            for seed in seeds:
                options = {"random_state": seed, "device": "cpu", "n_jobs": -1, "memory": cache}
                if max_epochs is not None:
                    options["max_epochs"] = max_epochs
                start = time.perf_counter()
                result = evaluate(
                    get_recipe(recipe, **options),
                    corpus,
                    protocol=splitter(),
                    scoring=("accuracy", "balanced_accuracy"),
                )
                row = {
                    "recipe": recipe,
                    "protocol": protocol,
                    "seed": seed,
                    "accuracy": float(np.mean(result.scores["accuracy"])),
                    "balanced_accuracy": float(np.mean(result.scores["balanced_accuracy"])),
                    "fit_seconds": float(np.sum(result.fit_seconds)),
                    "seconds": time.perf_counter() - start,
                }
                log(json.dumps(row))
                rows.append(row)
    return rows


def baseline_rows(ref, argv_rest):
    """The rows of this script run with the package of commit ``ref``."""
    with tempfile.TemporaryDirectory() as folder:
        tree, out = Path(folder) / "tree", Path(folder) / "rows.json"
        subprocess.run(
            ["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(tree), ref],
            check=True,
            capture_output=True,
        )
        try:
            env = {**os.environ, "PYTHONPATH": str(tree)}
            subprocess.run([sys.executable, __file__, *argv_rest, "--json", str(out)], check=True, env=env)
            result = json.loads(out.read_text())
            if not result["package"].startswith(str(tree)):
                raise RuntimeError(f"The baseline ran {result['package']}, not the package of commit {ref}.")
            return result["rows"]
        finally:
            subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(tree)], check=True)


def print_table(engines):
    print(
        "| recipe | protocol | engine | accuracy, mean ± sd | balanced accuracy, mean ± sd | per seed | "
        "fit, s per seed |"
    )
    print("|---|---|---|---:|---:|---|---:|")
    keys = sorted(
        {(row["recipe"], row["protocol"]) for rows in engines.values() for row in rows},
        key=lambda key: (key[0], key[1] != "random 80/20"),
    )
    for recipe, protocol in keys:
        for engine, rows in engines.items():
            chosen = [row for row in rows if (row["recipe"], row["protocol"]) == (recipe, protocol)]
            if not chosen:
                continue
            accuracy = np.array([row["accuracy"] for row in chosen])
            balanced = np.array([row["balanced_accuracy"] for row in chosen])
            seeds = ", ".join(f"{100 * a:.1f}" for a in accuracy)
            fit = np.mean([row["fit_seconds"] for row in chosen])
            print(
                f"| {recipe} | {protocol} | {engine} | {100 * accuracy.mean():.1f}% ± {100 * accuracy.std():.1f} | "
                f"{100 * balanced.mean():.1f}% ± {100 * balanced.std():.1f} | {seeds} | {fit:.0f} |"
            )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tess_root", nargs="?", default=os.environ.get("SKLEARN_SER_TESS", DEFAULT_TESS))
    parser.add_argument("--recipes", nargs="+", default=["paper-proposed", "paper-traditional", "lstm-logmel"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, help="override the recipes' epochs")
    parser.add_argument("--baseline", metavar="REF", help="also run the package of this git commit")
    parser.add_argument("--json", help="write the rows to this file instead of a table")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        rows = run(
            args.tess_root, args.recipes, args.seeds, args.max_epochs, cache, log=lambda line: print(line, flush=True)
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"package": sklearn_ser.__file__, "rows": rows}))
        return
    engines = {"this version": rows}
    if args.baseline:
        rest = [argument for argument in argv if argument not in ("--baseline", args.baseline)]
        engines[f"commit {args.baseline}"] = baseline_rows(args.baseline, rest)
    print()
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"torch {torch.__version__}, sklearn-ser {sklearn_ser.__version__}, epochs "
        f"{args.max_epochs or 'as in each recipe'}"
    )
    print()
    print_table(engines)


if __name__ == "__main__":
    main()
