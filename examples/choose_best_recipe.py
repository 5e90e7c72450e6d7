"""
Choosing the best SVM recipe, speaker-independently
===================================================

Candidates for the ``"svm-best"`` recipe, compared speaker-independently.

Every candidate is cross-validated on the same folds under the speaker
protocol (leave one speaker out); speaker ids reach ``SpeakerNormalizer``
through metadata routing. The ``"svm-best"`` recipe is the candidate with
the highest unweighted average recall (balanced accuracy) averaged over TESS
and the synthetic corpus; ``docs/evaluation.md`` records the run, and how the
sequence models were then compared with it to choose ``"best"``
(``benchmarks/sequence_selection.py``).

    python examples/choose_best_recipe.py                          # synthetic corpus
    python examples/choose_best_recipe.py --corpus tess:../shared/data/tess
"""

import argparse
import tempfile

from sklearn.pipeline import FeatureUnion, Pipeline

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.evaluation import compare
from sklearn_ser.features import SpeakerNormalizer
from sklearn_ser.recipes import get_recipe


def candidates(memory):
    common = dict(n_jobs=-1, memory=memory, random_state=0)
    mfcc = get_recipe("svm-mfcc", **common)
    egemaps = get_recipe("svm-egemaps", **common)
    mfcc_vector_norm = Pipeline([*mfcc.steps[:-2], ("speaker_norm", SpeakerNormalizer()), mfcc.steps[-1]])
    union = FeatureUnion([("mfcc", Pipeline(mfcc.steps[:-2])), ("egemaps", egemaps.steps[0][1])])
    return {
        "svm-mfcc": mfcc,
        "svm-mfcc, frames normalized per speaker": get_recipe("svm-mfcc", speaker_normalization=True, **common),
        "svm-mfcc, statistics normalized per speaker": mfcc_vector_norm,
        "svm-egemaps": egemaps,
        "svm-egemaps, normalized per speaker": get_recipe("svm-egemaps", speaker_normalization=True, **common),
        "mfcc statistics + egemaps, standardized": Pipeline(
            [("features", union), ("scale", egemaps.steps[1][1]), ("svm", egemaps.steps[-1][1])]
        ),
        "svm-best (mfcc statistics + egemaps, normalized per speaker)": get_recipe("svm-best", **common),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description="Speaker-independent comparison of candidate recipes.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic corpus, for a smoke test")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=6) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)
        _, table, _ = compare(candidates(workdir), corpus, protocol="speaker")
    summary = table["mean"].unstack("metric")
    print(f"{len(corpus)} files, speaker protocol ({corpus['speaker'].nunique()} folds):")
    print(summary.round(3).to_string())
    return summary


if __name__ == "__main__":
    main()
