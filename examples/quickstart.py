"""
Quickstart: a pipeline from file paths
======================================

Emotion recognition from file paths in one scikit-learn Pipeline.

MFCC with deltas, summarised by mean and standard deviation over time, feed
a standardized RBF SVM. The pipeline is scored twice: on a random split,
and on a speaker-independent split (train on some speakers, test on an
unseen one), which is what matters for a new user of the model.

Runs on the package's synthetic corpus by default; pass ``--corpus KIND:PATH`` to
run on a real corpus, e.g. the Toronto Emotional Speech Set::

    python examples/quickstart.py
    python examples/quickstart.py --corpus tess:../shared/data/tess
"""

import argparse
import tempfile

from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser.datasets import load_corpus, make_synthetic_corpus
from sklearn_ser.features import MFCC, DeltaStack, SequencePooling


def main(argv=None):
    parser = argparse.ArgumentParser(description="MFCC statistics + SVM, random vs speaker-independent.")
    parser.add_argument("--corpus", help="KIND:PATH of a corpus, e.g. tess:data/tess (default: synthetic)")
    parser.add_argument("--quick", action="store_true", help="a tiny synthetic corpus, for a smoke test")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as workdir:
        if args.corpus:
            corpus = load_corpus(args.corpus)
        else:
            size = dict(n_speakers=2, n_words=3) if args.quick else dict(n_speakers=4, n_words=20)
            corpus = make_synthetic_corpus(workdir, **size, random_state=0)

        pipe = make_pipeline(
            MFCC(n_mfcc=40, n_jobs=-1, memory=workdir),
            DeltaStack(order=2),
            SequencePooling(stats=("mean", "std")),
            StandardScaler(),
            SVC(C=10.0),
        )
        paths, labels, speakers = corpus["path"], corpus["label"], corpus["speaker"]
        random_split = cross_val_score(pipe, paths, labels, cv=StratifiedKFold(5, shuffle=True, random_state=0))
        by_speaker = cross_val_score(pipe, paths, labels, groups=speakers, cv=LeaveOneGroupOut())

    print(f"{len(corpus)} files, {labels.nunique()} emotions, {speakers.nunique()} speakers")
    print(f"random split accuracy:              {random_split.mean():.1%}")
    print(f"speaker-independent split accuracy: {by_speaker.mean():.1%}")
    return random_split, by_speaker


if __name__ == "__main__":
    main()
