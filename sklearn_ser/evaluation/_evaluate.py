"""Cross-validated evaluation of a pipeline on a corpus under a protocol."""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import sklearn
from joblib import Parallel, delayed
from scipy import stats
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from .._routing import consumed, split
from ..datasets import corpus_arrays
from ..model_selection import protocol_split

DEFAULT_SCORING = ("accuracy", "balanced_accuracy", "f1_macro")
METRICS = {
    "accuracy": accuracy_score,
    "balanced_accuracy": balanced_accuracy_score,
    "f1_macro": partial(f1_score, average="macro", zero_division=0),
    "f1_weighted": partial(f1_score, average="weighted", zero_division=0),
    "precision_macro": partial(precision_score, average="macro", zero_division=0),
    "recall_macro": partial(recall_score, average="macro", zero_division=0),
}


@dataclass
class EvaluationResult:
    """Scores, pooled predictions and tables of one cross-validated evaluation.

    Attributes
    ----------
    protocol : str
        The protocol's name (or the splitter's class name).
    scores : dict of str to ndarray
        One score per fold for each metric (``accuracy``, ``balanced_accuracy``
        (unweighted average recall, UAR), ``f1_macro``, ...).
    y_true, y_pred : ndarray
        Labels and predictions of every tested utterance, pooled over folds.
    test_indices : ndarray of int
        Row of the corpus each pooled prediction belongs to.
    fold : ndarray of int
        Fold each pooled prediction comes from.
    labels : ndarray
        Label order of ``confusion_matrix`` and ``per_class``.
    fit_seconds : ndarray
        Training time of each fold.
    estimators : list
        The fitted estimator of each fold, when kept.
    fold_names : list of str
        Each fold by the speakers it holds out (``"F01"``, ``"F01+M02"``,
        or ``"5 speakers"`` beyond three), or ``"fold k"`` when its test
        speakers are also in its training data.
    """

    protocol: str
    scores: dict
    y_true: np.ndarray
    y_pred: np.ndarray
    test_indices: np.ndarray
    fold: np.ndarray
    labels: np.ndarray
    fit_seconds: np.ndarray
    estimators: list = field(default_factory=list, repr=False)
    fold_names: list = field(default_factory=list)

    @property
    def confusion_matrix(self):
        """Counts of pooled predictions: rows true labels, columns predicted, in ``labels`` order."""
        return confusion_matrix(self.y_true, self.y_pred, labels=self.labels)

    @property
    def per_class(self):
        """Precision, recall, F1 and support per label over the pooled predictions."""
        precision, recall, f1, support = precision_recall_fscore_support(
            self.y_true, self.y_pred, labels=self.labels, zero_division=0
        )
        return pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support},
            index=pd.Index(self.labels, name="label"),
        )

    @property
    def missing_classes(self):
        """For each fold whose test set lacks some of ``labels``: its name (or number) and those labels."""
        names = self.fold_names or [f"fold {k + 1}" for k in range(len(np.unique(self.fold)))]
        missing = {}
        for k, name in enumerate(names):
            absent = sorted(set(self.labels) - set(self.y_true[self.fold == k]), key=str)
            if absent:
                missing[name] = absent
        return missing

    def summary(self):
        """Mean and standard deviation over folds of every metric."""
        return pd.DataFrame(
            {"mean": [np.mean(v) for v in self.scores.values()], "std": [np.std(v) for v in self.scores.values()]},
            index=pd.Index(list(self.scores), name="metric"),
        )


def evaluate(
    estimator,
    corpus,
    *,
    protocol="speaker",
    scoring=DEFAULT_SCORING,
    n_splits=5,
    random_state=0,
    n_jobs=None,
    keep_estimators=False,
    verbose=0,
    name=None,
):
    """Cross-validate ``estimator`` on a corpus under an evaluation protocol.

    Parameters
    ----------
    estimator : estimator
        A pipeline from audio paths to labels, e.g. a recipe.
    corpus : pandas.DataFrame
        A loader's frame (``path``, ``label``, ``speaker``, ``text``, ...).
    protocol : str or cross-validation splitter, default="speaker"
        ``"random"``, ``"speaker"``, ``"text"``, ``"speaker+text"`` or
        ``"cross-corpus"`` (see :func:`sklearn_ser.model_selection.protocol_split`),
        or a splitter, which then gets the speakers (when the corpus has a
        ``speaker`` column) as ``groups`` if its ``split`` takes them,
        whether or not it requests them under metadata routing.
    scoring : sequence of str, default=("accuracy", "balanced_accuracy", "f1_macro")
        Metrics computed from the predictions of each fold, among
        ``accuracy``, ``balanced_accuracy`` (unweighted average recall),
        ``f1_macro``, ``f1_weighted``, ``precision_macro`` and ``recall_macro``.
    n_splits : int, default=5
        Folds of the random and text protocols.
    random_state : int, default=0
        Seed of the folds.
    n_jobs : int or None, default=None
        Folds trained in parallel.
    keep_estimators : bool, default=False
        Keep each fold's fitted estimator in the result.
    verbose : int, default=0
        When positive, print a line on standard error as each fold ends:
        what it held out, its balanced accuracy (the first metric when
        ``scoring`` lacks it), the time so far, and an estimate of the time
        left.
    name : str, optional
        What the progress lines call the estimator (e.g. its recipe).

    Returns
    -------
    result : EvaluationResult

    Notes
    -----
    Speaker ids are routed, with scikit-learn's metadata routing, as
    ``speaker`` to every step that requests it in ``fit`` or ``predict``
    (such as :class:`~sklearn_ser.features.SpeakerNormalizer`), and as
    ``groups`` to steps whose ``fit`` requests it (e.g. an
    :class:`~sklearn_ser.models.LSTMClassifier` with early stopping whose
    validation split holds out whole speakers, after
    ``set_fit_request(groups=True)``); an estimator whose ``fit`` takes
    ``groups`` without requesting it does not get them. The splitter gets
    them in any case.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.svm import SVC
    >>> from sklearn_ser.datasets import make_synthetic_corpus
    >>> from sklearn_ser.evaluation import evaluate
    >>> from sklearn_ser.features import MFCC, SequencePooling
    >>> with tempfile.TemporaryDirectory() as root:
    ...     corpus = make_synthetic_corpus(root, n_speakers=2, n_words=3, emotions=("angry", "sad"))
    ...     pipe = make_pipeline(MFCC(n_mfcc=13), SequencePooling(), StandardScaler(), SVC())
    ...     result = evaluate(pipe, corpus, protocol="speaker")
    >>> len(result.scores["accuracy"]), int(result.confusion_matrix.sum())
    (2, 12)
    >>> list(result.per_class.columns)
    ['precision', 'recall', 'f1', 'support']
    """
    unknown = [metric for metric in scoring if metric not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric {unknown[0]!r} in scoring; choose from {sorted(METRICS)}.")
    X, y, metadata = corpus_arrays(corpus)
    if isinstance(protocol, str):
        cv, groups = protocol_split(corpus, protocol, n_splits=n_splits, random_state=random_state)
        protocol_name = protocol
    else:
        cv, protocol_name = protocol, type(protocol).__name__
        groups = metadata.get("speaker")
    splits = split(cv, X, y, groups)
    speakers = metadata.get("speaker")
    fold_names = [
        f"fold {k + 1}" if speakers is None else _fold_name(speakers[train], speakers[test], k)
        for k, (train, test) in enumerate(splits)
    ]
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_fit_and_predict)(clone(estimator), X, y, train, test, metadata) for train, test in splits
    )
    shown = "balanced_accuracy" if "balanced_accuracy" in scoring else scoring[0]
    progress = _FoldProgress(len(splits), shown, name) if verbose else None
    folds = []
    for (_, test), fold_name, fold in zip(splits, fold_names, results):
        folds.append(fold)
        if progress is not None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true", category=UserWarning)
                progress.report(fold_name, METRICS[shown](y[test], fold[1]))
    with warnings.catch_warnings():
        # A fold whose test set lacks a class: the report says how its scores read (see missing_classes).
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true", category=UserWarning)
        scores = {
            metric: [METRICS[metric](y[test], predictions) for (_, test), (_, predictions, _) in zip(splits, folds)]
            for metric in scoring
        }
    test_indices = np.concatenate([test for _, test in splits])
    return EvaluationResult(
        protocol=protocol_name,
        scores={metric: np.asarray(values) for metric, values in scores.items()},
        y_true=y[test_indices],
        y_pred=np.concatenate([predictions for _, predictions, _ in folds]),
        test_indices=test_indices,
        fold=np.concatenate([np.full(len(test), k) for k, (_, test) in enumerate(splits)]),
        labels=np.unique(np.concatenate([y[test_indices], *(predictions for _, predictions, _ in folds)])),
        fit_seconds=np.asarray([seconds for _, _, seconds in folds]),
        estimators=[fitted for fitted, _, _ in folds] if keep_estimators else [],
        fold_names=fold_names,
    )


def _fold_name(train_speakers, test_speakers, index):
    """A fold by the speakers it holds out (named up to three), or by its number when it holds out none."""
    held_out = sorted(set(test_speakers), key=str)
    if set(held_out) & set(train_speakers):
        return f"fold {index + 1}"
    return "+".join(map(str, held_out)) if len(held_out) <= 3 else f"{len(held_out)} speakers"


class _FoldProgress:
    """Lines on standard error as folds end: what each held out, its score, its time, the time left."""

    def __init__(self, n_folds, metric, name):
        self.n_folds, self.metric, self.prefix = n_folds, metric, f"{name}: " if name else ""
        self.start = time.perf_counter()
        self.done = 0

    def report(self, held_out, score):
        self.done += 1
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.n_folds - self.done)
        remaining = f", about {_duration(left)} left" if self.done < self.n_folds else ""
        print(
            f"{self.prefix}fold {self.done}/{self.n_folds} (held out: {held_out}): {self.metric} {score:.3f}, "
            f"{_duration(elapsed)} so far{remaining}",
            file=sys.stderr,
            flush=True,
        )


def _duration(seconds):
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:.0f} min"


def compare(
    estimators,
    corpus,
    *,
    protocol="speaker",
    scoring=DEFAULT_SCORING,
    n_splits=5,
    random_state=0,
    n_jobs=None,
    keep_estimators=False,
    verbose=0,
):
    """Evaluate several estimators on the same folds and test their differences.

    Parameters
    ----------
    estimators : dict of str to estimator
        Named pipelines from audio paths to labels.
    corpus : pandas.DataFrame
        A loader's frame.
    protocol : str or cross-validation splitter, default="speaker"
        As in :func:`evaluate`; every estimator sees the same folds.
    scoring : sequence of str, default=("accuracy", "balanced_accuracy", "f1_macro")
        Metrics, as in :func:`evaluate`.
    n_splits : int, default=5
        Folds of the random and text protocols.
    random_state : int, default=0
        Seed of the folds.
    n_jobs : int or None, default=None
        Folds trained in parallel.
    keep_estimators : bool, default=False
        Keep each fold's fitted estimators in the results.
    verbose : int, default=0
        When positive, a line per fold as in :func:`evaluate`, naming the
        estimator.

    Returns
    -------
    results : dict of str to EvaluationResult
        One per estimator.
    table : pandas.DataFrame
        Mean and standard deviation of every metric per estimator.
    tests : pandas.DataFrame
        For every pair of estimators and metric: the mean difference over
        folds and the p-values of a paired t-test and of a Wilcoxon
        signed-rank test over the folds (NaN where a test is undefined,
        e.g. identical scores). With few folds (leave one speaker out on
        two speakers) no test can be significant: read the differences.
    """
    results = {
        name: evaluate(
            estimator,
            corpus,
            protocol=protocol,
            scoring=scoring,
            n_splits=n_splits,
            random_state=random_state,
            n_jobs=n_jobs,
            keep_estimators=keep_estimators,
            verbose=verbose,
            name=name,
        )
        for name, estimator in estimators.items()
    }
    table = pd.concat({name: result.summary() for name, result in results.items()}, names=["estimator"])
    rows = []
    names = list(results)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            for metric in scoring:
                a, b = results[first].scores[metric], results[second].scores[metric]
                rows.append(
                    {
                        "estimator": first,
                        "other": second,
                        "metric": metric,
                        "mean_difference": float(np.mean(a - b)),
                        "n_folds": len(a),
                        "t_test_p": _p_value(stats.ttest_rel, a, b),
                        "wilcoxon_p": _p_value(stats.wilcoxon, a, b),
                    }
                )
    return results, table, pd.DataFrame(rows)


def _fit_and_predict(estimator, X, y, train, test, metadata):
    with sklearn.config_context(enable_metadata_routing=True):
        fit_params = consumed(estimator, "fit", metadata, train)
        predict_params = consumed(estimator, "predict", metadata, test)
        start = time.perf_counter()
        estimator.fit(X[train], y[train], **fit_params)
        seconds = time.perf_counter() - start
        return estimator, estimator.predict(X[test], **predict_params), seconds


def _p_value(test, a, b):
    try:
        with np.errstate(all="ignore"):
            return float(test(a, b).pvalue)
    except ValueError:
        return float("nan")
