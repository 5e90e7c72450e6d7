"""Reproducing "Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition" on TESS.

The paper reports 100% accuracy on the Toronto Emotional Speech Set with an
unstated split. :func:`reproduce_paper` runs its two LSTMs (the recipes
``"paper-proposed"`` and ``"paper-traditional"``) and SVM baselines under the
paper's likely protocol (one random stratified 80/20 split) and under honest
ones: speaker-independent (train on OAF, test on YAF, and the reverse) and
word-independent (no target word in both training and test), and writes a
Markdown report with the paper's tables and figures.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedShuffleSplit

from ._files import write_text_atomically
from .datasets import corpus_arrays, load_tess
from .evaluation import METRICS, EvaluationResult, evaluate
from .recipes import get_recipe
from .reports import evaluation_sections, markdown_table

LSTM_RECIPES = ("paper-proposed", "paper-traditional")
PAPER_CLAIM = "100% accuracy on TESS (split not stated)"
SCORING = ("accuracy", "balanced_accuracy", "f1_macro")


__all__ = ["epoch_table", "random_split_with_epochs", "reproduce_paper"]


def _recipes(*, epochs, random_state, n_jobs, memory, include_egemaps):
    models = {
        name: get_recipe(name, max_epochs=epochs, random_state=random_state, n_jobs=n_jobs, memory=memory)
        for name in LSTM_RECIPES
    }
    models["svm-mfcc"] = get_recipe("svm-mfcc", random_state=random_state, n_jobs=n_jobs, memory=memory)
    if include_egemaps:
        models["svm-egemaps"] = get_recipe("svm-egemaps", random_state=random_state, n_jobs=n_jobs, memory=memory)
    return models


def random_split_with_epochs(pipeline, corpus, *, test_size=0.2, random_state=0):
    """The paper's likely protocol: one stratified 80/20 split, test accuracy per epoch.

    The features are fitted on the training part; the LSTM records its loss
    and accuracy on the test part after every epoch (``history_``), without
    using them to choose anything.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Feature steps ending in an :class:`~sklearn_ser.models.LSTMClassifier`.
    corpus : pandas.DataFrame
        A loader's frame (``path`` and ``label`` columns).
    test_size : float, default=0.2
        Share of the utterances in the test part, stratified by label.
    random_state : int, default=0
        Seed of the split.

    Returns
    -------
    result : EvaluationResult
        One fold, with the fitted pipeline kept.
    """
    X, y, _ = corpus_arrays(corpus)
    train, test = next(StratifiedShuffleSplit(1, test_size=test_size, random_state=random_state).split(X, y))
    features, model = pipeline[:-1], pipeline[-1]
    start = time.perf_counter()
    X_train = features.fit_transform(X[train], y[train])
    X_test = features.transform(X[test])
    model.fit(X_train, y[train], validation_data=(X_test, y[test]))
    seconds = time.perf_counter() - start
    predictions = model.predict(X_test)
    return EvaluationResult(
        protocol="random 80/20",
        scores={metric: np.asarray([METRICS[metric](y[test], predictions)]) for metric in SCORING},
        y_true=y[test],
        y_pred=predictions,
        test_indices=test,
        fold=np.zeros(len(test), dtype=int),
        labels=np.unique(np.concatenate([y, predictions])),
        fit_seconds=np.asarray([seconds]),
        estimators=[pipeline],
    )


def epoch_table(model, *, every=10):
    """Training and test accuracy and loss per epoch, as the paper tabulates them.

    Parameters
    ----------
    model : LSTMClassifier
        Fitted with ``validation_data`` (the test part), as
        :func:`random_split_with_epochs` does.
    every : int, default=10
        Spacing of the epochs in the short table.

    Returns
    -------
    table : pandas.DataFrame
        One row per epoch.
    short : pandas.DataFrame
        The first epoch, every ``every``-th and the last.
    """
    history = model.history_
    table = pd.DataFrame(
        {
            "train accuracy": history[:, "train_acc"],
            "test accuracy": history[:, "valid_acc"],
            "train loss": history[:, "train_loss"],
            "test loss": history[:, "valid_loss"],
        },
        index=pd.Index(history[:, "epoch"], name="epoch"),
    )
    shown = [epoch for epoch in table.index if epoch == 1 or epoch % every == 0 or epoch == table.index[-1]]
    return table, table.loc[sorted(set(shown))]


def reproduce_paper(
    tess_root,
    out_dir,
    *,
    epochs=100,
    random_state=0,
    n_jobs=-1,
    memory=None,
    text_splits=5,
    include_egemaps=None,
    corpus=None,
    log=print,
):
    """Run the paper's models and baselines under four protocols; write the report.

    Parameters
    ----------
    tess_root : str or path-like
        The TESS corpus (any layout :func:`~sklearn_ser.datasets.load_tess` reads).
    out_dir : str or path-like
        Folder for ``report.md``, its figures and CSV tables.
    epochs : int, default=100
        Training epochs of the LSTMs (the paper trains 100).
    random_state : int, default=0
        Seed of the split and the models.
    n_jobs : int, default=-1
        Feature extraction workers.
    memory : str or None, default=None
        Feature cache folder; ``<out_dir>/cache`` when None.
    text_splits : int, default=5
        Folds of the word-independent protocol.
    include_egemaps : bool or None, default=None
        Add the eGeMAPS SVM baseline; None means when openSMILE is installed.
    corpus : pandas.DataFrame, optional
        Use this frame instead of loading ``tess_root`` (e.g. a subset).
    log : callable, default=print
        Receives progress lines.

    Returns
    -------
    path : pathlib.Path
        The report.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    corpus = load_tess(tess_root) if corpus is None else corpus
    if include_egemaps is None:
        include_egemaps = _has_opensmile()
    memory = str(out_dir / "cache") if memory is None else memory
    options = dict(epochs=epochs, random_state=random_state, n_jobs=n_jobs, memory=memory)
    names = list(_recipes(**options, include_egemaps=include_egemaps))
    results = {}
    for protocol in ("random 80/20", "speaker", "text"):
        for name, pipeline in _recipes(**options, include_egemaps=include_egemaps).items():
            log(f"{protocol:>12} | {name}")
            if protocol == "random 80/20":
                if name in LSTM_RECIPES:
                    result = random_split_with_epochs(pipeline, corpus, random_state=random_state)
                else:
                    split = StratifiedShuffleSplit(1, test_size=0.2, random_state=random_state)
                    result = evaluate(pipeline, corpus, protocol=split, scoring=SCORING, keep_estimators=True)
                    result.protocol = protocol
            else:
                result = evaluate(
                    pipeline,
                    corpus,
                    protocol=protocol,
                    scoring=SCORING,
                    n_splits=text_splits,
                    random_state=random_state,
                    keep_estimators=name in LSTM_RECIPES,
                )
            results[protocol, name] = result
    path = _write_report(results, names, corpus, out_dir, epochs=epochs, text_splits=text_splits)
    log(f"Report written to {path}")
    return path


def _summary(results, names):
    rows = []
    for (protocol, name), result in results.items():
        row = {"protocol": protocol, "model": name}
        for metric, values in result.scores.items():
            row[metric] = np.mean(values)
        row["folds"] = len(next(iter(result.scores.values())))
        rows.append(row)
    return pd.DataFrame(rows).set_index(["protocol", "model"])


def _write_report(results, names, corpus, out_dir, *, epochs, text_splits):
    from .plotting import plot_emotion_examples, plot_mfcc_correlation, save_figure

    summary = _summary(results, names)
    write_text_atomically(out_dir / "summary.csv", summary.to_csv(), replaces="table")
    lines = [
        "# Mel-Spectrograms Based LSTM Model for Speech Emotion Recognition, reproduced on TESS with sklearn-ser",
        "",
        f"{len(corpus)} files, {corpus['speaker'].nunique()} speakers, {corpus['text'].nunique()} words, "
        f"{corpus['label'].nunique()} emotions. LSTMs trained for {epochs} epochs.",
        "",
        "Protocols: **random 80/20** (one stratified split of the utterances, the paper's likely protocol: "
        "both speakers and every word are in training and test), **speaker** (train on one speaker, test on "
        "the other: OAF -> YAF and YAF -> OAF), **text** (word-independent: "
        f"{text_splits} folds of the {corpus['text'].nunique()} target words, no word in both training and test).",
        "",
        f"The paper's claim: {PAPER_CLAIM}.",
        "",
        "## Results",
        "",
        markdown_table(summary),
        "",
    ]
    for name in LSTM_RECIPES:
        model = results["random 80/20", name].estimators[0][-1]
        full, shown = epoch_table(model)
        write_text_atomically(out_dir / f"{name}_epochs.csv", full.to_csv(), replaces="table")
        lines += [
            f"## {name}: accuracy per epoch (random 80/20)",
            "",
            f"Every 10th epoch shown; all epochs in `{name}_epochs.csv`.",
            "",
            markdown_table(shown),
            "",
        ]
    for (protocol, name), result in results.items():
        stem = f"{protocol.split()[0]}_{name}"
        lines += [f"## {name}, {protocol} protocol", ""]
        lines += evaluation_sections(result, out_dir, stem=stem, heading_level=3)
    save_figure(plot_emotion_examples(corpus), out_dir / "emotion_examples.png")
    from .features import MFCC

    mfcc = MFCC(n_mfcc=40, n_jobs=-1).fit_transform(corpus["path"].to_numpy(dtype=object)[::10])
    save_figure(plot_mfcc_correlation(mfcc), out_dir / "mfcc_correlation.png")
    lines += [
        "## Waveform and log-Mel spectrogram per emotion",
        "",
        "![Waveform and spectrogram per emotion](emotion_examples.png)",
        "",
        "## MFCC correlation matrix",
        "",
        "![MFCC correlation](mfcc_correlation.png)",
        "",
    ]
    path = out_dir / "report.md"
    write_text_atomically(path, "\n".join(lines), replaces="report")
    return path


def _has_opensmile():
    try:
        import opensmile  # noqa: F401
    except ImportError:
        return False
    return True
