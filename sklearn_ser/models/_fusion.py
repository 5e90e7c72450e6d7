"""Score-level fusion: a weighted average of classifiers' probabilities, weighted by cross-validation."""

from __future__ import annotations

import itertools
import warnings
from numbers import Integral

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.metrics import get_scorer, get_scorer_names
from sklearn.model_selection import GroupKFold, StratifiedKFold, check_cv
from sklearn.utils import Bunch, _safe_indexing, get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metadata_routing import (
    UNUSED,
    MetadataRouter,
    MethodMapping,
    _raise_for_params,
    _routing_enabled,
    get_routing_for_object,
    process_routing,
)
from sklearn.utils.metaestimators import _BaseComposition
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import _check_method_params, check_is_fitted, column_or_1d, indexable

from .._routing import splitter_takes_groups
from .._sampling_rates import check_shared_waveform_rate

#: Folds of the inner cross-validation when ``cv=None``.
DEFAULT_FOLDS = 5
_TIE_TOLERANCE = 1e-12


class ScoreFusionClassifier(ClassifierMixin, MetaEstimatorMixin, _BaseComposition):
    """Soft voting over several classifiers, with weights chosen by cross-validation.

    Score-level fusion across model families (e.g. an LSTM on
    log-mel spectrograms and an SVM on MFCC statistics): ``predict_proba``
    is the weighted average of the members' ``predict_proba``, and
    ``predict`` its most probable label.

    With ``weights="cv"``, :meth:`fit` chooses the weights on the training
    data only: an inner cross-validation gives every member's out-of-fold
    probabilities of every training utterance; each candidate weighting of
    ``weight_grid`` is scored by ``scoring`` on the fused out-of-fold
    probabilities; the best wins, ties going to the weights closest to equal
    ones. Every member is then refitted on all the training data.

    Members that share a feature cache (the same ``memory=`` folder and the
    same feature parameters) compute each file's features once: the inner
    folds' refits and the other members read them back.

    Parameters
    ----------
    estimators : list of (str, estimator) tuples
        The members, at least two, each with ``predict_proba`` (e.g. a
        recipe with ``probability=True``). Their parameters are exposed as
        ``<name>__<param>`` by ``get_params`` and ``set_params``.
    weights : "cv", array-like of shape (n_estimators,) or None, default="cv"
        ``"cv"`` chooses the weights by the inner cross-validation; an
        array-like gives them (non-negative, not all zero; normalized to sum
        to 1), and None gives equal weights; neither runs the inner
        cross-validation.
    weight_grid : int or array-like of shape (n_candidates, n_estimators), default=10
        The candidate weightings of ``weights="cv"``. An int ``r``: every
        weighting on the simplex in steps of ``1 / r`` (11 candidates for two
        members, 66 for three, ``C(r + n - 1, n - 1)`` for ``n``). An array:
        one candidate per row (non-negative, not all zero; each row is
        normalized to sum to 1).
    cv : int, cross-validation splitter, iterable or None, default=None
        The inner cross-validation of ``weights="cv"``, over the training
        data passed to :meth:`fit`:

        - an int ``k``: with ``groups`` (e.g. speaker ids),
          :class:`~sklearn.model_selection.GroupKFold` with ``min(k, n_groups)``
          folds, i.e. leave one speaker out when there are at most ``k``
          speakers; with a single group (one speaker) or without ``groups``,
          a ``k``-fold :class:`~sklearn.model_selection.StratifiedKFold`
          (with a warning in the single-group case);
        - None: as ``k = 5``;
        - a splitter or an iterable of ``(train, test)`` index arrays into
          the training data, used as given (a splitter gets ``groups``); its
          test sets must cover every training utterance exactly once.
    scoring : str or callable, default="balanced_accuracy"
        What the weights maximize on the out-of-fold probabilities: a
        scikit-learn scorer name (``"balanced_accuracy"``, ``"accuracy"``,
        ``"f1_macro"``, ``"neg_log_loss"``, ...) or a callable
        ``scorer(estimator, X, y)``, which receives a classifier whose
        ``predict_proba`` returns the fused out-of-fold probabilities (of
        the rows whose numbers it gets as ``X``).
    n_jobs : int or None, default=None
        Members and inner folds fitted in parallel (``None`` is 1 unless in
        a :func:`joblib.parallel_config` context; ``-1`` is all cores).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Labels seen in :meth:`fit`, sorted; the columns of ``predict_proba``.
    weights_ : ndarray of shape (n_estimators,)
        The weight of each member, summing to 1.
    estimators_ : list of estimators
        The members, fitted on all the training data.
    named_estimators_ : :class:`~sklearn.utils.Bunch`
        The fitted members by name.
    cv_results_ : dict of str to ndarray
        With ``weights="cv"`` only: one entry per candidate weighting,
        ``weight_<name>`` for every member, ``score`` (``scoring`` on the
        pooled out-of-fold probabilities) and ``rank`` (1 for the best);
        ``pandas.DataFrame(cv_results_)`` makes it a table.
    best_index_ : int
        With ``weights="cv"`` only: the row of ``cv_results_`` chosen.
    best_score_ : float
        With ``weights="cv"`` only: its out-of-fold score.
    n_features_in_ : int
        Features seen by the first member in :meth:`fit`, when it records them.
    feature_names_in_ : ndarray of str objects
        Their names, when the members record them.

    See Also
    --------
    sklearn.ensemble.VotingClassifier : Soft voting with fixed weights.
    sklearn.ensemble.StackingClassifier : A classifier trained on the members' outputs.

    Notes
    -----
    Metadata routing (``sklearn.set_config(enable_metadata_routing=True)``,
    as :func:`sklearn_ser.evaluation.evaluate` does): metadata such as
    ``speaker`` reaches each member's ``fit`` and ``predict_proba`` (in the
    inner folds too, cut to the fold's utterances) when the member requests
    it, e.g. through a :class:`~sklearn_ser.features.SpeakerNormalizer`.
    ``groups`` is the inner splitter's, and also reaches the members whose
    ``fit`` requests it (e.g. an :class:`~sklearn_ser.models.LSTMClassifier`
    after ``set_fit_request(groups=True)``); a member that takes ``groups``
    without requesting it does not get it. Without routing, :meth:`fit`
    takes ``groups`` for the inner splitter only, and no other metadata.

    Members whose audio steps read at different sampling rates (e.g. an
    ``MFCC(sr=16000)`` and an ``MFCC(sr=8000)``) may share audio file paths,
    which each decodes and resamples to its own rate, but not waveforms: a
    waveform has a single rate, so :meth:`fit` and the prediction methods
    refuse waveforms then, with a ``ValueError`` naming two such members.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.naive_bayes import GaussianNB
    >>> from sklearn_ser.models import ScoreFusionClassifier
    >>> X, y = make_classification(n_samples=60, n_features=4, random_state=0)
    >>> fusion = ScoreFusionClassifier(
    ...     [("logistic", LogisticRegression()), ("bayes", GaussianNB())], weight_grid=4, cv=3
    ... ).fit(X, y)
    >>> fusion.weights_
    array([0.5, 0.5])
    >>> fusion.predict_proba(X[:2]).shape, fusion.predict(X[:2]).shape
    ((2, 2), (2,))
    >>> list(fusion.cv_results_)
    ['weight_logistic', 'weight_bayes', 'score', 'rank']
    """

    # groups is an explicit argument of fit, routed to the inner splitter: no set_fit_request for it.
    __metadata_request__fit = {"groups": UNUSED}

    _parameter_constraints = {
        "estimators": [list],
        "weights": [StrOptions({"cv"}), "array-like", None],
        "weight_grid": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable],
        "n_jobs": [Integral, None],
    }

    def __init__(self, estimators, *, weights="cv", weight_grid=10, cv=None, scoring="balanced_accuracy", n_jobs=None):
        self.estimators = estimators
        self.weights = weights
        self.weight_grid = weight_grid
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs

    def get_params(self, deep=True):
        """Parameters of the fusion and, with ``deep=True``, of its members as ``<name>__<param>``.

        Parameters
        ----------
        deep : bool, default=True
            Include the members and their parameters.

        Returns
        -------
        params : dict
        """
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        """Set parameters of the fusion, replace a member by name, or set ``<name>__<param>``.

        Parameters
        ----------
        **params : dict
            Parameter names mapped to their values.

        Returns
        -------
        self : object
        """
        self._set_params("estimators", **params)
        return self

    @property
    def named_estimators(self):
        """The unfitted members by name, as a :class:`~sklearn.utils.Bunch`."""
        return Bunch(**dict(self.estimators))

    def fit(self, X, y, groups=None, **params):
        """Choose the weights (with ``weights="cv"``) and fit every member on all of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the members take, e.g. audio paths.
        y : array-like of shape (n_samples,)
            Labels.
        groups : array-like of shape (n_samples,), default=None
            Group of each utterance (e.g. speaker) for the inner
            cross-validation; see ``cv``.
        **params : dict
            Metadata routed to the members (e.g. ``speaker``); only with
            metadata routing enabled.

        Returns
        -------
        self : object
        """
        self._validate_params()
        names, members = self._validate_estimators()
        _check_member_rates(X, zip(names, members))
        fixed = self._fixed_weights(len(members))
        candidates = self._candidates(len(members)) if fixed is None else None
        X, y, groups = indexable(X, column_or_1d(y, warn=True), groups)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        routed = self._route_fit(names, members, groups, params)
        if fixed is None:
            probabilities = self._out_of_fold_probabilities(X, y, groups, names, members, routed)
            self._choose_weights(names, candidates, probabilities, y)
        else:
            self.weights_ = fixed
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(clone(member), X, y, routed[name]["fit"]) for name, member in zip(names, members)
        )
        self.named_estimators_ = Bunch(**dict(zip(names, self.estimators_)))
        _check_member_rates(X, self.named_estimators_.items())  # the rates members know once fitted
        for name, member in self.named_estimators_.items():
            self._check_member_classes(name, member.classes_)
            if hasattr(member, "feature_names_in_"):
                self.feature_names_in_ = member.feature_names_in_
        return self

    def predict_proba(self, X, **params):
        """Weighted average of the members' probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the members take, e.g. audio paths.
        **params : dict
            Metadata routed to the members' ``predict_proba`` (e.g.
            ``speaker``); only with metadata routing enabled.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in ``classes_`` order.
        """
        check_is_fitted(self)
        return self._fused_probabilities(X, "predict_proba", params)

    def predict(self, X, **params):
        """The label with the highest fused probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            What the members take, e.g. audio paths.
        **params : dict
            Metadata routed to the members' ``predict_proba`` (e.g.
            ``speaker``); only with metadata routing enabled.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[self._fused_probabilities(X, "predict", params).argmax(axis=1)]

    @property
    def n_features_in_(self):
        """Features seen by the first member in :meth:`fit`."""
        check_is_fitted(self)
        return self.estimators_[0].n_features_in_

    def get_metadata_routing(self):
        """How metadata reaches the members and the inner splitter.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        router = MetadataRouter(owner=self)
        for name, member in self.estimators:
            router.add(
                **{name: member},
                method_mapping=MethodMapping()
                .add(caller="fit", callee="fit")
                .add(caller="fit", callee="predict_proba")
                .add(caller="predict", callee="predict_proba")
                .add(caller="predict_proba", callee="predict_proba"),
            )
        router.add(
            splitter=self._splitter_for_routing(), method_mapping=MethodMapping().add(caller="fit", callee="split")
        )
        return router

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        members = [item[1] for item in self.estimators if isinstance(item, (tuple, list)) and len(item) == 2]
        tags.input_tags.allow_nan = all(get_tags(member).input_tags.allow_nan for member in members)
        tags.input_tags.sparse = all(get_tags(member).input_tags.sparse for member in members)
        return tags

    # -- validation ------------------------------------------------------------------------------

    def _validate_estimators(self):
        if not all(
            isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str) for item in self.estimators
        ):
            raise ValueError("estimators must be a list of (name, estimator) tuples.")
        if len(self.estimators) < 2:
            raise ValueError(f"ScoreFusionClassifier fuses at least 2 members; estimators has {len(self.estimators)}.")
        names, members = zip(*self.estimators)
        self._validate_names(names)
        if "splitter" in names:
            raise ValueError("'splitter' names the inner cross-validation in metadata routing; rename that member.")
        for name, member in self.estimators:
            if not hasattr(member, "predict_proba"):
                raise ValueError(
                    f"Member {name!r} ({type(member).__name__}) has no predict_proba; score fusion averages "
                    "probabilities (for an SVM recipe, pass probability=True)."
                )
        return list(names), list(members)

    def _fixed_weights(self, n_members):
        if isinstance(self.weights, str):
            return None
        if self.weights is None:
            return np.full(n_members, 1.0 / n_members)
        weights = np.asarray(self.weights, dtype=float)
        if weights.shape != (n_members,):
            raise ValueError(f"weights has {weights.size} values for {n_members} members.")
        return _normalized(weights, "weights")

    def _candidates(self, n_members):
        if isinstance(self.weight_grid, Integral):
            return _simplex_grid(n_members, int(self.weight_grid))
        grid = np.asarray(self.weight_grid, dtype=float)
        if grid.ndim != 2 or grid.shape[1] != n_members:
            raise ValueError(f"weight_grid must have one column per member ({n_members}), got shape {grid.shape}.")
        return np.stack([_normalized(row, f"weight_grid[{i}]") for i, row in enumerate(grid)])

    def _check_member_classes(self, name, member_classes):
        if set(member_classes) != set(self.classes_):
            raise ValueError(
                f"Member {name!r} has classes {list(member_classes)} after fitting on all the training data, "
                f"not the labels of y {list(self.classes_)}; fused members must share their labels."
            )

    # -- routing ---------------------------------------------------------------------------------

    def _splitter_for_routing(self):
        # cv=None or an int becomes a GroupKFold whenever groups are given: it consumes groups.
        return GroupKFold() if self.cv is None or isinstance(self.cv, Integral) else self.cv

    def _route_fit(self, names, members, groups, params):
        """Each member's metadata for ``fit`` and ``predict_proba``.

        ``groups`` belongs to the inner splitter; under routing it also goes to the members whose
        ``fit`` requests it, and no further: a member that takes it without a request (an
        LSTMClassifier) would otherwise refuse it.
        """
        if not _routing_enabled():
            _raise_for_params(params, self, "fit")
            return {name: {"fit": {}, "predict_proba": {}} for name in names}
        routed = process_routing(self, "fit", **params)
        return {
            name: {
                "fit": {**routed[name]["fit"], **_requested_groups(member, groups)},
                "predict_proba": dict(routed[name]["predict_proba"]),
            }
            for name, member in zip(names, members)
        }

    def _route_predict(self, method, params):
        """Each member's metadata for ``predict_proba``, when the fusion's ``method`` is called."""
        if not _routing_enabled():
            _raise_for_params(params, self, method)
            return {name: {} for name in self.named_estimators_}
        routed = process_routing(self, method, **params)
        return {name: dict(routed[name]["predict_proba"]) for name in self.named_estimators_}

    # -- weights ---------------------------------------------------------------------------------

    def _inner_splitter(self, y, groups):
        """The splitter of the inner cross-validation, and the groups its ``split`` takes."""
        if self.cv is not None and not isinstance(self.cv, Integral):
            splitter = check_cv(self.cv, y, classifier=True)
            return splitter, groups if splitter_takes_groups(splitter) else None
        n_splits = DEFAULT_FOLDS if self.cv is None else self.cv
        if groups is None:
            return StratifiedKFold(n_splits), None
        n_groups = len(np.unique(groups))
        if n_groups >= 2:
            return GroupKFold(min(n_splits, n_groups)), groups
        warnings.warn(
            "The training data holds a single group (speaker): the fusion weights are chosen on stratified "
            "folds of its utterances, not on held-out speakers.",
            UserWarning,
            stacklevel=4,
        )
        return StratifiedKFold(n_splits), None

    def _out_of_fold_probabilities(self, X, y, groups, names, members, routed):
        """``(n_members, n_samples, n_classes)`` probabilities of each training utterance, held out."""
        splitter, groups = self._inner_splitter(y, groups)
        splits = list(splitter.split(X, y, groups))
        _check_partition(splits, len(y))
        jobs = [(m, train, test) for m in range(len(members)) for train, test in splits]
        folds = Parallel(n_jobs=self.n_jobs)(
            delayed(_fold_probabilities)(
                clone(members[m]), names[m], X, y, train, test, routed[names[m]], self.classes_
            )
            for m, train, test in jobs
        )
        probabilities = np.zeros((len(members), len(y), len(self.classes_)))
        for (m, _, test), proba in zip(jobs, folds):
            probabilities[m, test] = proba
        return probabilities

    def _choose_weights(self, names, candidates, probabilities, y):
        scorer = get_scorer(self.scoring) if isinstance(self.scoring, str) else self.scoring
        rows = np.arange(len(y))[:, None]
        scores = np.asarray(
            [
                scorer(_FixedProbabilities(np.tensordot(w, probabilities, axes=1), self.classes_), rows, y)
                for w in candidates
            ],
            dtype=float,
        )
        if np.isnan(scores).all():
            raise ValueError(f"scoring={self.scoring!r} gave no score for any candidate weighting.")
        best = np.flatnonzero(scores >= np.nanmax(scores) - _TIE_TOLERANCE)
        distances = np.linalg.norm(candidates[best] - 1.0 / len(names), axis=1)
        self.best_index_ = int(best[np.argmin(distances)])
        self.best_score_ = float(scores[self.best_index_])
        self.weights_ = candidates[self.best_index_]
        self.cv_results_ = {f"weight_{name}": candidates[:, k] for k, name in enumerate(names)}
        self.cv_results_["score"] = scores
        self.cv_results_["rank"] = rankdata(-np.nan_to_num(scores, nan=-np.inf), method="min").astype(int)

    def _fused_probabilities(self, X, method, params):
        _check_member_rates(X, self.named_estimators_.items())
        routed = self._route_predict(method, params)
        fused = 0.0
        for (name, member), weight in zip(self.named_estimators_.items(), self.weights_):
            proba = member.predict_proba(X, **routed[name])
            fused = fused + weight * _aligned(proba, member.classes_, self.classes_, name)
        return fused


def _check_member_rates(X, members):
    """Refuse waveforms that the members would read at different sampling rates (file paths they each resample)."""
    check_shared_waveform_rate(X, members, owner="ScoreFusionClassifier", part_kind="member")


class _FixedProbabilities(ClassifierMixin, BaseEstimator):
    """Given probabilities, served as a fitted classifier's so that scikit-learn's scorers can score them."""

    def __init__(self, proba, classes):
        self.proba = proba
        self.classes = classes

    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.proba[np.asarray(X)[:, 0]]

    def predict(self, X):
        return self.classes[self.predict_proba(X).argmax(axis=1)]


def _requested_groups(member, groups):
    requested = groups is not None and get_routing_for_object(member).consumes("fit", ["groups"])
    return {"groups": groups} if requested else {}


def _fit_member(member, X, y, fit_params):
    return member.fit(X, y, **fit_params)


def _fold_probabilities(member, name, X, y, train, test, routed, classes):
    member.fit(_safe_indexing(X, train), y[train], **_check_method_params(X, routed["fit"], train))
    proba = member.predict_proba(_safe_indexing(X, test), **_check_method_params(X, routed["predict_proba"], test))
    return _aligned(proba, member.classes_, classes, name)


def _aligned(proba, member_classes, classes, name):
    """``proba`` with one column per label of ``classes`` (zero for labels the member did not see)."""
    column = {label: i for i, label in enumerate(classes)}
    unknown = [label for label in member_classes if label not in column]
    if unknown:
        raise ValueError(
            f"Member {name!r} predicts classes {unknown} that are not labels of y {list(classes)}; "
            "fused members must share their labels."
        )
    aligned = np.zeros((len(proba), len(classes)))
    aligned[:, [column[label] for label in member_classes]] = proba
    return aligned


def _normalized(weights, what):
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ValueError(f"{what} must be finite and non-negative, got {weights.tolist()}.")
    if weights.sum() == 0:
        raise ValueError(f"{what} are all zero; at least one member needs a positive weight.")
    return weights / weights.sum()


def _simplex_grid(n_members, resolution):
    """Every weighting of ``n_members`` in steps of ``1 / resolution``, as rows summing to 1."""
    rows = []
    for bars in itertools.combinations(range(resolution + n_members - 1), n_members - 1):
        edges = np.array([-1, *bars, resolution + n_members - 1])
        rows.append(np.diff(edges) - 1)
    return np.asarray(rows, dtype=float) / resolution


def _check_partition(splits, n_samples):
    tested = np.bincount(np.concatenate([test for _, test in splits]), minlength=n_samples)
    if not np.all(tested == 1):
        raise ValueError(
            "The inner cross-validation (cv) must test every training sample exactly once, to give each "
            "member's out-of-fold probabilities."
        )
