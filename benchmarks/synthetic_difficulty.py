"""How hard is the synthetic corpus for a plain MFCC + SVM baseline?

Writes a corpus with :func:`sklearn_ser.datasets.make_synthetic_corpus`,
describes every file by the mean and standard deviation over time of 40 MFCCs
and their deltas, and scores ``StandardScaler`` + ``SVC(C=10)`` under

- stratified random 80/20 splits (five folds of a shuffled stratified
  five-fold split, so every file is tested once), and
- leave-one-speaker-out splits.

A good synthetic corpus is learnable (well above the chance level of one over
the number of emotions) and clearly harder for unseen speakers.

Run from the repository root::

    python benchmarks/synthetic_difficulty.py
    python benchmarks/synthetic_difficulty.py --random-state 1 --n-speakers 6
"""

import argparse
import tempfile
import time

import librosa
import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser.datasets import make_synthetic_corpus


def mfcc_statistics(path, *, sr=16000, n_mfcc=40):
    """Mean and standard deviation over time of MFCCs and their deltas."""
    y, _ = librosa.load(path, sr=sr)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc)
    frames = np.vstack([mfcc, librosa.feature.delta(mfcc)])
    return np.concatenate([frames.mean(axis=1), frames.std(axis=1)])


def score_splits(features, labels, splits):
    """Accuracy and balanced accuracy of the baseline, per split."""
    model = make_pipeline(StandardScaler(), SVC(C=10))
    scores = []
    for train, test in splits:
        model.fit(features[train], labels[train])
        predicted = model.predict(features[test])
        scores.append(
            (
                accuracy_score(labels[test], predicted),
                balanced_accuracy_score(labels[test], predicted),
            )
        )
    return np.array(scores)


def report(name, scores):
    accuracy, balanced = scores.mean(axis=0)
    low, high = scores[:, 0].min(), scores[:, 0].max()
    print(
        f"{name:<26} accuracy {accuracy:6.1%}  balanced accuracy {balanced:6.1%}"
        f"  (accuracy per split {low:.1%} to {high:.1%})"
    )
    return accuracy, balanced


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-speakers", type=int, default=4)
    parser.add_argument("--n-words", type=int, default=20)
    parser.add_argument("--random-state", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=2, help="feature extraction workers")
    parser.add_argument("--root", help="write the corpus here instead of a temporary folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        root = args.root or scratch
        start = time.perf_counter()
        corpus = make_synthetic_corpus(
            root,
            n_speakers=args.n_speakers,
            n_words=args.n_words,
            random_state=args.random_state,
        )
        generation = time.perf_counter() - start
        start = time.perf_counter()
        features = np.array(Parallel(n_jobs=args.n_jobs)(delayed(mfcc_statistics)(p) for p in corpus["path"]))
        extraction = time.perf_counter() - start

    labels = corpus["label"].to_numpy()
    speakers = corpus["speaker"].to_numpy()
    print(
        f"{len(corpus)} files, {len(np.unique(speakers))} speakers, "
        f"{len(np.unique(labels))} emotions (chance {1 / len(np.unique(labels)):.1%}); "
        f"generated in {generation:.1f} s, features in {extraction:.1f} s"
    )
    random_splits = StratifiedKFold(5, shuffle=True, random_state=0).split(features, labels)
    speaker_splits = LeaveOneGroupOut().split(features, labels, groups=speakers)
    random_accuracy, random_balanced = report("random 80/20 (5 folds)", score_splits(features, labels, random_splits))
    speaker_scores = score_splits(features, labels, speaker_splits)
    speaker_accuracy, speaker_balanced = report("leave one speaker out", speaker_scores)
    for speaker, (accuracy, balanced) in zip(np.unique(speakers), speaker_scores):
        print(f"  held-out {speaker}: accuracy {accuracy:.1%}, balanced accuracy {balanced:.1%}")
    print(
        f"gap: {random_accuracy - speaker_accuracy:+.1%} accuracy, "
        f"{random_balanced - speaker_balanced:+.1%} balanced accuracy"
    )


if __name__ == "__main__":
    main()
