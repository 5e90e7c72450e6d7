"""
SVM against LSTM, speaker-independent
=====================================

The classical baseline (MFCC, delta and delta-delta statistics into an RBF
SVM: the ``svm-mfcc`` recipe) and a sequence model (a bidirectional LSTM with
attention over standardized log-Mel frames: ``lstm-logmel``) are
cross-validated on the same folds, leaving one speaker out, and their
difference is tested fold by fold (paired t-test and Wilcoxon).

Runs on the package's synthetic corpus by default; ``--corpus KIND:PATH``
runs it on a real corpus::

    python examples/svm_vs_lstm.py
    python examples/svm_vs_lstm.py --corpus tess:../shared/data/tess
"""

import argparse
import tempfile

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.evaluation import compare
from sklearn_ser.recipes import get_recipe


def main(argv=None):
    parser = argparse.ArgumentParser(description="svm-mfcc against lstm-logmel, leaving one speaker out.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--max-epochs", type=int, default=30, help="LSTM training epochs (default: 30)")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic corpus and 2 epochs, for a smoke test")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=3) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        common = dict(n_jobs=-1, memory=workdir, random_state=0)
        pipelines = {
            "svm-mfcc": get_recipe("svm-mfcc", **common),
            "lstm-logmel": get_recipe("lstm-logmel", max_epochs=2 if args.quick else args.max_epochs, **common),
        }
        _, table, tests = compare(pipelines, corpus, protocol="speaker")

    print(f"{len(corpus)} files, {corpus['speaker'].nunique()} speakers, one held out per fold")
    print(table["mean"].unstack("metric").round(3).to_string())
    print()
    print(tests.round(3).to_string())
    return table, tests


if __name__ == "__main__":
    main()
