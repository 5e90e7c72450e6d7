"""
Per-speaker normalization
=========================

What per-speaker normalization changes for speaker-independent recognition.

Compares the ``svm-mfcc`` recipe with and without
:class:`~sklearn_ser.features.SpeakerNormalizer` on the same folds, under a
speaker-independent protocol (leave one speaker out) and, for reference, a
random split. Speaker ids reach the normalizer through metadata routing,
which :func:`sklearn_ser.evaluation.compare` sets up.

Runs on the package's synthetic corpus by default; pass ``--corpus KIND:PATH`` for
a real corpus, e.g. the Toronto Emotional Speech Set::

    python examples/speaker_normalization.py
    python examples/speaker_normalization.py --corpus tess:../shared/data/tess
"""

import argparse
import tempfile

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.evaluation import compare
from sklearn_ser.recipes import get_recipe


def main(argv=None):
    parser = argparse.ArgumentParser(description="svm-mfcc with and without per-speaker normalization.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic corpus, for a smoke test")
    parser.add_argument("--protocols", default="speaker,random", help="comma-separated protocols")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=6) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        models = {
            "svm-mfcc": get_recipe("svm-mfcc", n_jobs=-1, memory=workdir, random_state=0),
            "svm-mfcc + SpeakerNormalizer": get_recipe(
                "svm-mfcc", speaker_normalization=True, n_jobs=-1, memory=workdir, random_state=0
            ),
        }
        tables = {}
        for protocol in args.protocols.split(","):
            _, table, tests = compare(models, corpus, protocol=protocol)
            tables[protocol] = table
            print(f"\n{len(corpus)} files, protocol {protocol!r}:")
            print(table.unstack("metric")["mean"].round(3).to_string())
            print(tests[["estimator", "other", "metric", "mean_difference", "n_folds"]].round(3).to_string(index=False))
    return tables


if __name__ == "__main__":
    main()
