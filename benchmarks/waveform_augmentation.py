"""Does waveform augmentation help the MFCC + SVM baseline on unseen speakers?

Writes a synthetic corpus with :func:`sklearn_ser.datasets.make_synthetic_corpus`
and scores the ``svm-mfcc`` recipe under leave-one-speaker-out evaluation
(:func:`sklearn_ser.evaluation.evaluate`, ``protocol="speaker"``):

- as it is, and
- with a :class:`~sklearn_ser.augmentation.WaveformAugmenter` in front (speed
  perturbation, white noise at 10-30 dB SNR, +-6 dB gain; ``--n-copies``
  copies per training utterance), in an :class:`imblearn.pipeline.Pipeline`,
  once per augmentation seed.

With ``--speaker-normalization`` the recipe standardizes the MFCC per speaker,
and the augmented pipeline is an
:class:`~sklearn_ser.augmentation.AugmentedClassifier`, which gives every copy
its source's speaker.

Balanced accuracy is averaged over the speakers (folds); the augmented rows
give the mean and standard deviation of that average over the seeds. The
features go through a feature cache in a temporary folder, whose growth is
reported.

Run from the repository root::

    python benchmarks/waveform_augmentation.py
    python benchmarks/waveform_augmentation.py --n-copies 2 --seeds 0 1 2 3 4
    python benchmarks/waveform_augmentation.py --speaker-normalization
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from imblearn.pipeline import Pipeline

from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.evaluation import evaluate
from sklearn_ser.recipes import get_recipe


def folder_megabytes(folder):
    return sum(path.stat().st_size for path in Path(folder).rglob("*") if path.is_file()) / 1e6


def augmented(recipe, augmenter, speaker_normalization):
    if speaker_normalization:
        return AugmentedClassifier(recipe, augmenter)
    return Pipeline([("augment", augmenter), *recipe.steps])


def balanced_accuracy(estimator, corpus):
    start = time.perf_counter()
    result = evaluate(estimator, corpus, protocol="speaker", scoring=("balanced_accuracy",))
    return result.scores["balanced_accuracy"], time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-speakers", type=int, default=4)
    parser.add_argument("--n-words", type=int, default=10)
    parser.add_argument("--corpus-seed", type=int, default=0, help="random_state of the synthetic corpus")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="random_state of the augmenter")
    parser.add_argument("--n-copies", type=int, default=1)
    parser.add_argument("--noise", default="white", choices=["white", "pink", "brown"])
    parser.add_argument("--speaker-normalization", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=1, help="threads decoding and augmenting")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        corpus = make_synthetic_corpus(
            Path(scratch) / "corpus", n_speakers=args.n_speakers, n_words=args.n_words, random_state=args.corpus_seed
        )
        cache = Path(scratch) / "cache"
        print(f"{len(corpus)} files, {corpus['speaker'].nunique()} speakers, {corpus['label'].nunique()} emotions")
        recipe = get_recipe(
            "svm-mfcc", speaker_normalization=args.speaker_normalization, memory=cache, n_jobs=args.n_jobs
        )

        scores, seconds = balanced_accuracy(recipe, corpus)
        baseline_cache = folder_megabytes(cache)
        print(
            f"{'svm-mfcc':<34} balanced accuracy {scores.mean():6.1%}  "
            f"(per speaker {' '.join(f'{s:.1%}' for s in scores)})  {seconds:5.1f} s"
        )
        means = []
        for seed in args.seeds:
            augmenter = WaveformAugmenter(
                n_copies=args.n_copies, noise=args.noise, random_state=seed, n_jobs=args.n_jobs
            )
            scores, seconds = balanced_accuracy(augmented(recipe, augmenter, args.speaker_normalization), corpus)
            means.append(scores.mean())
            print(
                f"{f'+ augmenter (seed {seed})':<34} balanced accuracy {scores.mean():6.1%}  "
                f"(per speaker {' '.join(f'{s:.1%}' for s in scores)})  {seconds:5.1f} s"
            )
        print(
            f"{f'+ augmenter, {len(means)} seeds':<34} balanced accuracy {np.mean(means):6.1%} +- {np.std(means):.1%}"
        )
        print(
            f"feature cache: {baseline_cache:.1f} MB after the baseline, {folder_megabytes(cache):.1f} MB after the "
            f"augmented runs ({len(args.seeds)} x {corpus['speaker'].nunique()} fits)"
        )


if __name__ == "__main__":
    main()
