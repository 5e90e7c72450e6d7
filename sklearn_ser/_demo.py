"""The ``sklearn-ser demo`` job: a synthetic corpus, one pipeline, two protocols."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import __version__
from ._cache import default_cache_dir
from .datasets import load_synthetic, make_synthetic_corpus
from .evaluation import evaluate
from .recipes import svm_mfcc

SCORING = ("accuracy", "balanced_accuracy")


def synthetic_corpus(cache_dir, *, n_speakers, n_words, random_state):
    """Load the synthetic corpus from the cache folder, writing it first if needed."""
    root = Path(cache_dir) / "synthetic" / f"v{__version__}-{n_speakers}spk-{n_words}w-seed{random_state}"
    if (root / "manifest.csv").exists():
        return load_synthetic(root)
    return make_synthetic_corpus(root, n_speakers=n_speakers, n_words=n_words, random_state=random_state)


def evaluate_protocols(pipeline, corpus, *, random_state=0, n_jobs=None):
    """Per-fold scores under a random and a speaker-independent split."""
    protocols = {
        "random (stratified 5-fold)": "random",
        "speaker-independent (leave one speaker out)": "speaker",
    }
    return {
        name: evaluate(
            pipeline, corpus, protocol=protocol, scoring=SCORING, random_state=random_state, n_jobs=n_jobs
        ).scores
        for name, protocol in protocols.items()
    }


def format_results(results, *, n_classes):
    width = max(map(len, results))
    lines = [f"{'protocol':<{width}}  {'accuracy':>15}  {'balanced acc.':>15}"]
    for name, scores in results.items():
        cells = [f"{np.mean(scores[m]):6.1%} ± {np.std(scores[m]):5.1%}" for m in SCORING]
        lines.append(f"{name:<{width}}  {cells[0]:>15}  {cells[1]:>15}")
    lines.append(f"(chance: {1 / n_classes:.1%})")
    return "\n".join(lines)


def run_demo(*, cache_dir=None, n_speakers=4, n_words=20, random_state=0, n_jobs=-1, verbose=1, out=print):
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    out(f"Synthetic corpus ({n_speakers} speakers x {n_words} words x 7 emotions) in {cache_dir}")
    corpus = synthetic_corpus(cache_dir, n_speakers=n_speakers, n_words=n_words, random_state=random_state)
    features_cache = cache_dir / "features"
    out(f"{len(corpus)} files; extracting MFCC features (cached in {features_cache})")
    svm_mfcc(memory=features_cache, n_jobs=n_jobs, verbose=verbose)[:1].transform(corpus["path"])
    out("Cross-validating MFCC statistics + SVM (the svm-mfcc recipe):")
    results = evaluate_protocols(svm_mfcc(memory=features_cache), corpus, random_state=random_state)
    out(format_results(results, n_classes=corpus["label"].nunique()))
    return results
