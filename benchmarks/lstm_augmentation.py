"""Do SpecAugment-style masks and mixup help the LSTM recipe on unseen speakers?

Writes a synthetic corpus (:func:`sklearn_ser.datasets.make_synthetic_corpus`,
4 speakers x 10 words x 7 emotions by default) and evaluates the
``lstm-logmel`` recipe, made small (``lstm__hidden_size=32``, 15 epochs), leaving
one speaker out, once per seed and augmentation setting:

- ``none``: no augmentation;
- ``masks``: two time masks of up to 10% of each utterance and two bands of up
  to 8 Mel bands, masked alike in the static, delta and delta-delta blocks;
- ``mixup``: mixup with ``alpha=0.2``;
- ``both``: the masks and mixup.

The seed is the recipe's ``random_state`` (weights, batch order, dropout and
augmentation draws); the folds stay the same. The table gives the mean and
(sample) standard deviation over seeds of the balanced accuracy (mean over the folds).
Features are cached, so only the first setting pays for their extraction.
Run from the repository root::

    python benchmarks/lstm_augmentation.py
    python benchmarks/lstm_augmentation.py --seeds 0 1 2 3 4 --max-epochs 30 --settings none both
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.evaluation import evaluate
from sklearn_ser.recipes import get_recipe

MASKS = dict(time_masks=2, time_mask_width=0.1, freq_masks=2, freq_mask_width=8, freq_mask_blocks=3)
MIXUP = dict(mixup_alpha=0.2)
SETTINGS = {"none": {}, "masks": MASKS, "mixup": MIXUP, "both": {**MASKS, **MIXUP}}


def balanced_accuracy(corpus, setting, seed, *, max_epochs, hidden_size, cache):
    """Mean over the leave-one-speaker-out folds, and the seconds it took."""
    overrides = {f"lstm__{name}": value for name, value in SETTINGS[setting].items()}
    pipeline = get_recipe(
        "lstm-logmel",
        max_epochs=max_epochs,
        random_state=seed,
        device="cpu",
        memory=cache,
        lstm__hidden_size=hidden_size,
        **overrides,
    )
    start = time.perf_counter()
    result = evaluate(pipeline, corpus, protocol="speaker", scoring=("balanced_accuracy",))
    return float(np.mean(result.scores["balanced_accuracy"])), time.perf_counter() - start


def mean_and_std(scores):
    """``mean ± std``, the standard deviation over seeds with one degree of freedom taken (0 for one seed)."""
    spread = np.std(scores, ddof=1) if len(scores) > 1 else 0.0
    return f"{np.mean(scores):.3f} ± {spread:.3f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--n-speakers", type=int, default=4)
    parser.add_argument("--n-words", type=int, default=10)
    parser.add_argument("--corpus-seed", type=int, default=0, help="random_state of the synthetic corpus")
    parser.add_argument("--json", type=Path, help="also write every (setting, seed) row to this file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as root:
        corpus = make_synthetic_corpus(
            Path(root) / "corpus", n_speakers=args.n_speakers, n_words=args.n_words, random_state=args.corpus_seed
        )
        print(f"{len(corpus)} utterances, {args.n_speakers} speakers, leave one speaker out")
        rows = []
        for setting in args.settings:
            for seed in args.seeds:
                score, seconds = balanced_accuracy(
                    corpus,
                    setting,
                    seed,
                    max_epochs=args.max_epochs,
                    hidden_size=args.hidden_size,
                    cache=str(Path(root) / "cache"),
                )
                rows.append({"setting": setting, "seed": seed, "balanced_accuracy": score, "seconds": seconds})
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'setting':<8} balanced accuracy (mean ± std over {len(args.seeds)} seeds)")
    for setting in args.settings:
        scores = [row["balanced_accuracy"] for row in rows if row["setting"] == setting]
        print(f"{setting:<8} {mean_and_std(scores)}")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
