"""
Save a model, load it elsewhere, predict
========================================

A fitted pipeline is saved with joblib and loaded in a new process (or on
another machine: a model trained on a GPU loads on a CPU-only machine), where
it predicts from file paths with the same probabilities. The command line
does the same: ``sklearn-ser fit`` saves, ``sklearn-ser predict`` writes a
CSV of labels and class probabilities.

A model file is a pickle, and loading a pickle runs code: load only model
files from sources you trust.

    python examples/save_load_predict.py
    python examples/save_load_predict.py --corpus tess:../shared/data/tess --recipe lstm-logmel
"""

import argparse
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.recipes import get_recipe


def main(argv=None):
    parser = argparse.ArgumentParser(description="Fit, save, load in a new process, predict.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--recipe", default="svm-mfcc", help="recipe to fit (default: svm-mfcc)")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic corpus, for a smoke test")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=3) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        train, test = train_test_split(corpus, test_size=0.25, stratify=corpus["label"], random_state=0)
        options = {"probability": True} if args.recipe.startswith("svm") else {"max_epochs": 2 if args.quick else 30}
        model = get_recipe(args.recipe, random_state=0, **options).fit(train["path"], train["label"])
        path = Path(workdir) / "model.joblib"
        joblib.dump(model, path)

        here = model.predict_proba(test["path"])
        loaded_here = joblib.load(path).predict_proba(test["path"])
        command = [sys.executable, "-m", "sklearn_ser.cli", "predict", str(path), *test["path"]]
        csv = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    elsewhere = pd.read_csv(io.StringIO(csv))

    difference = np.abs(elsewhere[[f"prob_{label}" for label in model.classes_]].to_numpy() - here).max()
    print(f"fitted {args.recipe} on {len(train)} files, saved, loaded and predicted {len(test)} files")
    print(f"same probabilities after joblib.load:     {np.array_equal(here, loaded_here)}")
    print(f"largest difference in a new process (CSV): {difference:.1e}")
    print(f"accuracy on the held-out files: {(elsewhere['label'].to_numpy() == test['label'].to_numpy()).mean():.1%}")
    print(elsewhere.head().to_string(index=False))
    return here, loaded_here, elsewhere


if __name__ == "__main__":
    main()
