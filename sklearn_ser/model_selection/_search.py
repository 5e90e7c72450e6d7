"""OptunaSearch: a define-by-run Optuna search that is itself a classifier."""

from __future__ import annotations

import hashlib
import inspect
import os
import re
import socket
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import sklearn
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.exceptions import FitFailedWarning, NotFittedError
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import _safe_indexing, get_tags, indexable
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _num_samples, check_is_fitted

from .._routing import consumed, split, splitter_routing
from ..models import EpochwiseClassifier
from ._spaces import DefaultSearchSpace
from ._storage import in_memory_copy, make_storage, password_hidden

_PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")


def _search_estimator_has(method):
    """Whether the search's fitted best estimator, else its estimator, has ``method`` (for ``available_if``)."""

    def check(search):
        estimator = getattr(search, "best_estimator_", search.estimator)
        getattr(estimator, method)
        return True

    return check


class OptunaSearch(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Search an estimator's parameters with Optuna, pruning bad trials early.

    Every trial draws parameters from ``search_space`` (a function of the
    trial, so spaces may be conditional: an architecture's later layers exist
    only when it has them), cross-validates the estimator with them and
    reports the scores to the trial, so that the pruner stops trials that do
    worse than earlier ones at the same point:

    * for a classifier that trains epoch by epoch
      (:class:`~sklearn_ser.models.EpochwiseClassifier`, such as
      :class:`~sklearn_ser.models.LSTMClassifier`), alone or last in a
      pipeline, the cross-validated learning curve: the folds' classifiers
      are trained in step, one epoch each in turn, and after every epoch
      their ``scoring`` on their folds' test parts, averaged over the folds,
      is reported (the folds' features are all held at once; the test parts
      are scored, never trained or early-stopped on);
    * for any other estimator the mean score of the folds done so far, after
      every fold.

    The search is a classifier: ``cross_val_score(search, X, y, cv=5)`` uses
    stratified folds, and after :meth:`fit` it predicts with the best
    parameters refitted on all the data.

    Parameters
    ----------
    estimator : estimator
        A classifier, usually a pipeline from audio paths
        (:func:`~sklearn_ser.recipes.get_recipe`).
    search_space : callable or None, default=None
        ``search_space(trial)`` returns a dict of ``set_params`` values,
        drawing them with ``trial.suggest_*``. None uses
        :class:`DefaultSearchSpace` of ``estimator``. To save the search with
        joblib, the callable must be picklable (a module-level function, not
        a lambda).
    n_trials : int, default=20
        Finished (complete or pruned) trials the study should hold. Trials
        already in a loaded study count, so rerunning an interrupted search
        only runs what is missing, and several workers sharing one study
        stop together when it is reached.
    timeout : float or None, default=None
        Stop starting trials after this many seconds.
    cv : int, cross-validation generator or iterable, default=5
        Folds of every trial, as in :func:`~sklearn.model_selection.check_cv`
        for a classifier (an integer means stratified K-fold). Give a group
        splitter such as :class:`~sklearn.model_selection.LeaveOneGroupOut`
        with ``groups`` in :meth:`fit` for speaker-independent folds.
    scoring : str, callable or None, default=None
        Scikit-learn scorer of each fold; None is the estimator's ``score``
        (accuracy). Higher is better.
    sampler : optuna.samplers.BaseSampler or None, default=None
        None is a TPE sampler seeded with ``random_state``.
    pruner : optuna.pruners.BasePruner or None, default=None
        None is a median pruner after 5 trials: for an epoch-wise classifier
        from half its ``max_epochs`` on (pruning from the 3rd epoch of 20 dropped the best
        architecture in one of two measured searches; see
        ``docs/benchmarks.md``), otherwise from the second fold on.
        ``optuna.pruners.NopPruner()`` switches pruning off.
    storage : None, str or optuna.storages.BaseStorage, default=None
        Where the study lives: None in memory; ``"journal:PATH"`` a journal
        file several processes on one machine can share; a database URL
        (``sqlite:///f.db``, ``postgresql://...``) for many machines. See
        :func:`make_storage`.
    study_name : str or None, default=None
        Name of the study in ``storage`` (required with a storage); an
        existing study of that name is loaded and continued, so a study
        name serves one search: in a nested cross-validation every outer fold
        would continue the same study. A study records what it optimises
        when it is created, and :meth:`fit` refuses to continue one recorded
        for another search (see Notes). None names a new in-memory study.
    refit : bool, default=True
        Refit the estimator with the best parameters on all the data, as
        ``best_estimator_``, used by :meth:`predict`.
    error_score : "raise" or float, default=np.nan
        Value of a trial whose fit fails. ``np.nan`` marks the trial failed
        (with a ``FitFailedWarning`` naming the error and the parameters);
        ``"raise"`` stops the search with the error itself. If no trial of
        the study completes, :meth:`fit` raises a ``ValueError`` that quotes
        the first failed trial's error (type and message, as recorded in the
        trial, which another worker may have run), chained to the first
        error raised in this process; this is what
        :class:`~sklearn.model_selection.GridSearchCV` does when all its fits
        fail.
    random_state : int, RandomState instance or None, default=None
        Seed of the default sampler. With several workers on one study, give
        each its own seed (or none), or they start with the same trials.
    verbose : int, default=0
        Optuna's log level: 0 warnings only, 1 one line per trial.

    Attributes
    ----------
    study_ : optuna.Study
        The study, with every trial (including those of other workers). A
        pickled search carries an in-memory copy of it.
    best_trial_ : optuna.trial.FrozenTrial
        The trial with the highest score.
    best_score_ : float
        Its mean cross-validated score.
    best_params_ : dict
        Its ``set_params`` values.
    best_estimator_ : estimator
        The estimator refitted with ``best_params_`` (``refit=True``).
    classes_ : ndarray of shape (n_classes,)
        The labels seen in :meth:`fit`.
    n_features_in_ : int
        Features seen by ``best_estimator_`` (``refit=True``, and only for
        estimators that have ``n_features_in_``).
    feature_names_in_ : ndarray of str objects
        Their names, when ``best_estimator_`` has them.
    n_splits_ : int
        Folds per trial.
    refit_time_ : float
        Seconds spent refitting the best estimator.

    See Also
    --------
    DefaultSearchSpace : The default define-by-run space.
    make_storage : Storages from ``"journal:PATH"`` or database URLs.

    Notes
    -----
    Metadata such as ``speaker`` (for
    :class:`~sklearn_ser.features.SpeakerNormalizer`) and ``groups`` go to
    :meth:`fit` as keyword arguments: ``groups`` reaches the splitter, and
    each goes to the steps that request it (scikit-learn's metadata routing
    decides, as in :func:`sklearn_ser.evaluation.evaluate`), at fit and at
    prediction time within each fold.

    Ctrl-C stops the search with ``KeyboardInterrupt``: the trial in
    progress is marked failed (never left running in a stored study), and
    the finished trials stay in the study for a rerun to continue.

    Every trial records user attributes: ``worker`` (``host:pid`` of the
    process that ran it), ``fold_scores`` (when it completed) and ``error``
    (when its fit failed).

    A named study records what its trials optimise in its user attribute
    ``"sklearn_ser_search"`` when it is created: the direction, the
    ``scoring``, the cross-validation (the splitter's repr, or a digest of
    folds given as a list), the estimator's class and parameters (nested
    ones included; ``n_jobs``, ``backend``, ``memory``, ``verbose`` and
    ``device`` left out, as they do not change the scores) and the names of
    the parameters the search space draws (``search_space`` is called once
    on a trial of a throwaway in-memory study, sampled with a fixed seed, so
    that a conditional space always shows the same branch; a function may be
    renamed or edited as long as it draws the same names). Loading a study
    whose record differs in any of these raises a ``ValueError`` naming the
    study, what differs, its recorded value and this search's, before any
    trial runs: its best trial would otherwise be judged on another metric,
    protocol or estimator. A study without a record, created by an older
    version or by other code, is adopted and this search's record written:
    silently when it holds no trial yet, with a warning when it does (its
    trials cannot be checked).
    A study of another direction is refused in every case.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.model_selection import LeaveOneGroupOut
    >>> from sklearn_ser.datasets import make_synthetic_corpus
    >>> from sklearn_ser.model_selection import OptunaSearch
    >>> from sklearn_ser.recipes import get_recipe
    >>> def space(trial):
    ...     return {"svm__C": trial.suggest_float("svm__C", 0.1, 100, log=True)}
    >>> search = OptunaSearch(get_recipe("svm-mfcc"), space, n_trials=4,
    ...                       cv=LeaveOneGroupOut(), random_state=0)
    >>> with tempfile.TemporaryDirectory() as root:
    ...     corpus = make_synthetic_corpus(root, n_speakers=3, n_words=2, emotions=("angry", "sad"))
    ...     search = search.fit(corpus["path"], corpus["label"], groups=corpus["speaker"])
    ...     predictions = search.predict(corpus["path"][:2])
    >>> list(search.best_params_), len(search.study_.trials), search.n_splits_
    (['svm__C'], 4, 3)
    >>> predictions.shape
    (2,)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "search_space": [callable, None],
        "n_trials": [Interval(Integral, 1, None, closed="left")],
        "timeout": [Interval(Real, 0, None, closed="neither"), None],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "sampler": [HasMethods(["sample_relative", "sample_independent"]), None],
        "pruner": [HasMethods(["prune"]), None],
        "storage": [str, HasMethods(["create_new_study"]), None],
        "study_name": [str, None],
        "refit": ["boolean"],
        "error_score": [StrOptions({"raise"}), Real],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        search_space=None,
        *,
        n_trials=20,
        timeout=None,
        cv=5,
        scoring=None,
        sampler=None,
        pruner=None,
        storage=None,
        study_name=None,
        refit=True,
        error_score=np.nan,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.search_space = search_space
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.scoring = scoring
        self.sampler = sampler
        self.pruner = pruner
        self.storage = storage
        self.study_name = study_name
        self.refit = refit
        self.error_score = error_score
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, *, groups=None, **fit_params):
        """Run the search, then refit the best parameters on all the data.

        Parameters
        ----------
        X : sequence of paths, waveforms or feature sequences
            Whatever ``estimator`` takes.
        y : array-like of shape (n_samples,)
            Labels.
        groups : array-like of shape (n_samples,), optional
            Groups (e.g. speakers) of a group splitter in ``cv``, and of the
            steps that request ``groups``.
        **fit_params : dict of array-like
            Per-utterance metadata (e.g. ``speaker``) for the steps that
            request it.

        Returns
        -------
        self : object
        """
        import optuna

        self._validate_params()
        if self.storage is not None and self.study_name is None:
            raise ValueError("study_name is required with a storage, so that reruns and other workers find the study.")
        for attribute in ("best_estimator_", "refit_time_", "feature_names_in_"):
            self.__dict__.pop(attribute, None)
        check_classification_targets(y)
        y = np.asarray(y)
        n_samples = _num_samples(X)
        if len(y) != n_samples:
            raise ValueError(f"X has {n_samples} samples but y has {len(y)}.")
        (X,) = indexable(X)
        routed = self._route_fit_metadata(n_samples, groups, fit_params)
        metadata = routed["estimator"]["fit"]
        cv = check_cv(self.cv, y, classifier=True)
        folds = split(cv, X, y, **routed["splitter"]["split"])
        self.n_splits_ = len(folds)
        space = DefaultSearchSpace(self.estimator) if self.search_space is None else self.search_space
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        record = None if self.study_name is None else self._study_record(space, cv, folds)

        errors = []
        with _optuna_verbosity(self.verbose):
            self.study_ = self._run_study(space, X, y, folds, metadata, scorer, record, errors)
        self._check_some_trial_completed(self.study_, errors)
        self.best_trial_ = self.study_.best_trial
        self.best_score_ = self.best_trial_.value
        self.best_params_ = space(optuna.trial.FixedTrial(_tuples_restored(self.best_trial_.params)))
        self.classes_ = np.unique(y)
        if self.refit:
            start = time.perf_counter()
            self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_)
            _fit(self.best_estimator_, X, y, metadata)
            self.refit_time_ = time.perf_counter() - start
            self.classes_ = self.best_estimator_.classes_
            if hasattr(self.best_estimator_, "feature_names_in_"):
                self.feature_names_in_ = self.best_estimator_.feature_names_in_
        return self

    @property
    def n_features_in_(self):
        """Number of features seen by ``best_estimator_`` in :meth:`fit`.

        Only available with ``refit=True``, and when the best estimator has
        it (estimators of audio files or waveforms do not).
        """
        try:
            check_is_fitted(self, "best_estimator_")
        except NotFittedError as exc:
            raise AttributeError(
                f"{type(self).__name__} has no n_features_in_: it is not fitted, or kept no best_estimator_."
            ) from exc
        return self.best_estimator_.n_features_in_

    def _run_study(self, space, X, y, folds, metadata, scorer, record, errors):
        """Create or load the study and run trials until it holds ``n_trials`` finished ones.

        The errors of the trials that fail in this process are appended to
        ``errors``.
        """
        import optuna

        pruner = self.pruner if self.pruner is not None else _default_pruner(self.estimator)
        study = optuna.create_study(
            storage=make_storage(self.storage),
            study_name=self.study_name,
            direction="maximize",
            sampler=self._sampler(),
            pruner=pruner,
            load_if_exists=True,
        )
        if record is not None:
            _check_study_record(study, record, self.storage)
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        remaining = self.n_trials - len(study.get_trials(deepcopy=False, states=finished))
        if remaining > 0:
            try:
                study.optimize(
                    lambda trial: self._objective(trial, space, X, y, folds, metadata, scorer, errors),
                    n_trials=remaining,
                    timeout=self.timeout,
                    callbacks=[optuna.study.MaxTrialsCallback(self.n_trials, states=finished)],
                )
            except KeyboardInterrupt:
                _fail_running_trials(study, _worker())
                raise
        return study

    def predict(self, X, **params):
        """Labels predicted by ``best_estimator_``.

        Parameters
        ----------
        X : sequence
            Input as in :meth:`fit`.
        **params : dict of array-like
            Metadata (e.g. ``speaker``) for the steps that request it.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        return self._best_estimator_method("predict")(X, **params)

    @available_if(_search_estimator_has("predict_proba"))
    def predict_proba(self, X, **params):
        """Class probabilities from ``best_estimator_``, in ``classes_`` order.

        Only available when the estimator has ``predict_proba``.

        Parameters
        ----------
        X : sequence
            Input as in :meth:`fit`.
        **params : dict of array-like
            Metadata for the steps that request it.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._best_estimator_method("predict_proba")(X, **params)

    @available_if(_search_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X, **params):
        """Logarithms of the class probabilities from ``best_estimator_``.

        Only available when the estimator has ``predict_log_proba``.

        Parameters
        ----------
        X : sequence
            Input as in :meth:`fit`.
        **params : dict of array-like
            Metadata for the steps that request it.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return self._best_estimator_method("predict_log_proba")(X, **params)

    @available_if(_search_estimator_has("decision_function"))
    def decision_function(self, X, **params):
        """Decision function of ``best_estimator_``.

        Only available when the estimator has ``decision_function``.

        Parameters
        ----------
        X : sequence
            Input as in :meth:`fit`.
        **params : dict of array-like
            Metadata for the steps that request it.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        return self._best_estimator_method("decision_function")(X, **params)

    def get_metadata_routing(self):
        """Route ``groups`` to the splitter and metadata to the estimator.

        The splitter requests ``groups`` whenever its ``split`` takes them
        (as :meth:`fit` gives them), so that an outer cross-validation passes
        them on even to a group splitter that does not request them itself.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        estimator_mapping = MethodMapping().add(caller="fit", callee="fit")
        for method in _PREDICT_METHODS:
            estimator_mapping.add(caller=method, callee=method)
        return (
            MetadataRouter(owner=self)
            .add(estimator=self.estimator, method_mapping=estimator_mapping)
            .add(
                splitter=splitter_routing(check_cv(self.cv, classifier=True)),
                method_mapping=MethodMapping().add(caller="fit", callee="split"),
            )
        )

    def __getstate__(self):
        state = super().__getstate__()
        if "study_" in state:
            state["study_"] = in_memory_copy(state["study_"])
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator_tags = get_tags(self.estimator)
        tags.input_tags = estimator_tags.input_tags
        tags.non_deterministic = estimator_tags.non_deterministic
        return tags

    def _sampler(self):
        import optuna

        if self.sampler is not None:
            return self.sampler
        seed = None
        if self.random_state is not None:
            seed = int(sklearn.utils.check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        return optuna.samplers.TPESampler(seed=seed)

    def _route_fit_metadata(self, n_samples, groups, fit_params):
        """The metadata of :meth:`fit` for the estimator and for the splitter, checked to hold one value per sample.

        ``groups`` is the splitter's whatever the estimator is (see
        :func:`~sklearn_ser._routing.split`), and the estimator's only where
        it requests it: outside ``process_routing``, so that an estimator
        whose ``fit`` takes ``groups`` without requesting it (an
        :class:`~sklearn_ser.models.LSTMClassifier`) does not make it
        "unset" metadata. Groups that nothing uses are ignored, as
        scikit-learn's searches do; any other metadata that nothing
        requests is an error (``process_routing``'s).
        """
        metadata = {
            key: np.asarray(value) for key, value in {"groups": groups, **fit_params}.items() if value is not None
        }
        for key, value in metadata.items():
            if len(value) != n_samples:
                raise ValueError(f"{key} has {len(value)} values but X has {n_samples} samples.")
        groups = metadata.pop("groups", None)
        with sklearn.config_context(enable_metadata_routing=True):
            routed = process_routing(self, "fit", **metadata)
            estimator_metadata = dict(routed["estimator"]["fit"])
            if groups is not None:
                estimator_metadata.update(consumed(self.estimator, "fit", {"groups": groups}))
        return {"estimator": {"fit": estimator_metadata}, "splitter": {"split": {"groups": groups}}}

    def _study_record(self, space, cv, folds):
        """What a named study optimises, as recorded in its user attributes: the same in every process."""
        return {
            "direction": "maximize",
            "scoring": _describe_scoring(self.scoring),
            "cv": _describe_cv(cv, folds),
            "estimator": type(self.estimator).__name__,
            "estimator_parameters": _estimator_parameters(self.estimator),
            "search_space_parameters": _space_parameter_names(space),
        }

    def _objective(self, trial, space, X, y, folds, metadata, scorer, errors):
        import optuna

        trial.set_user_attr("worker", _worker())
        params = space(trial)
        if not isinstance(params, dict):
            raise TypeError(f"search_space must return a dict of parameters, got {type(params).__name__}.")
        estimator = clone(self.estimator).set_params(**params)
        try:
            if _epochwise_final(estimator) is not None:
                scores = _cross_validate_by_epoch(estimator, X, y, folds, metadata, scorer, trial)
            else:
                scores = _cross_validate_by_fold(estimator, X, y, folds, metadata, scorer, trial)
        except optuna.TrialPruned:
            raise
        except Exception as error:
            if self.error_score == "raise":
                raise
            errors.append(error)
            trial.set_user_attr("error", f"{type(error).__name__}: {error}")
            warnings.warn(
                f"Trial {trial.number} failed with parameters {params}: {type(error).__name__}: {error}",
                FitFailedWarning,
                stacklevel=2,
            )
            return self.error_score
        trial.set_user_attr("fold_scores", [float(score) for score in scores])
        return float(np.mean(scores))

    def _check_some_trial_completed(self, study, errors):
        """Raise a ValueError, from the first error raised in this process, when no trial of ``study`` completed."""
        import optuna

        if study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
            return
        recorded = [trial.user_attrs["error"] for trial in study.trials if "error" in trial.user_attrs]
        detail = f" The first error: {recorded[0]}" if recorded else ""
        raise ValueError(
            f"No trial of study {study.study_name!r} completed ({len(study.trials)} trials).{detail}"
        ) from (errors[0] if errors else None)

    def _best_estimator_method(self, method):
        check_is_fitted(self)
        if not self.refit:
            raise AttributeError(f"{method} needs refit=True: this search kept no best_estimator_.")
        return _with_metadata(getattr(self.best_estimator_, method), self.best_estimator_, method)


STUDY_RECORD = "sklearn_ser_search"
"""User attribute of a study holding what its trials optimise (see :func:`_check_study_record`)."""

EXECUTION_PARAMETERS = frozenset({"n_jobs", "backend", "memory", "verbose", "device"})
"""Parameters that change where and how fast an estimator runs, not what it computes: left out of the record."""

RECORDED_FIELDS = {
    "direction": "direction",
    "scoring": "scoring",
    "cv": "cv",
    "estimator": "estimator",
    "search_space_parameters": "search_space's parameters",
}
"""Fields of the record compared one by one (the estimator's parameters are compared apart), and their names."""

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _check_study_record(study, record, storage):
    """Refuse to continue a study created for another search; record this search in a study without a record.

    The record holds the direction, scoring, cross-validation, estimator
    (its class and parameters) and search space. A loaded study must have
    the same. A study without a record (made by an older version, or by
    other code) is adopted: silently when it has no trials yet, with a
    warning when it has some, whose scores cannot be checked. Optuna's own
    direction of the study is checked in every case.
    """
    directions = [direction.name.lower() for direction in study.directions]
    if directions != [record["direction"]]:
        _refuse(study, storage, "direction", ", ".join(directions), record["direction"])
    stored = study.user_attrs.get(STUDY_RECORD)
    if stored is None:
        if study.trials:
            warnings.warn(
                f"Study {study.study_name!r} has {len(study.trials)} trials but no record of what they optimise (it "
                "was created by an older version of sklearn-ser or by other code), so their scoring, "
                "cross-validation, estimator and search space cannot be checked against this search's. This "
                "search's are recorded now; later searches on the study must match them.",
                UserWarning,
                stacklevel=4,
            )
        study.set_user_attr(STUDY_RECORD, record)
        stored = study.user_attrs[STUDY_RECORD]  # another worker may have recorded first
    for field, label in RECORDED_FIELDS.items():
        if stored.get(field) != record[field]:
            _refuse(study, storage, label, stored.get(field), record[field])
    changed = _changed_parameters(stored.get("estimator_parameters", {}), record["estimator_parameters"])
    if changed:
        _refuse(study, storage, "estimator parameters", *changed)


def _changed_parameters(stored, new):
    """(stored, new) descriptions of the estimator parameters that differ, at most five, or None."""
    names = sorted(name for name in set(stored) | set(new) if stored.get(name) != new.get(name))
    if not names:
        return None
    missing = "(not a parameter)"
    shown = names[:5]
    more = f", and {len(names) - 5} more" if len(names) > 5 else ""
    return (
        ", ".join(f"{name}={stored.get(name, missing)}" for name in shown) + more,
        ", ".join(f"{name}={new.get(name, missing)}" for name in shown) + more,
    )


def _refuse(study, storage, field, stored, new):
    where = f" in storage {password_hidden(storage)!r}" if isinstance(storage, str) else ""
    verb = "are" if field.endswith("parameters") else "is"
    raise ValueError(
        f"Study {study.study_name!r}{where} was created for another search: its {field} {verb} {stored!r}, this "
        f"search's {verb} {new!r}. Continuing it would mix trials that cannot be compared. Give this search "
        "another study_name (--study on the command line), or rerun it with the study's settings."
    )


def _describe(value):
    """A description of ``value`` that is the same in every process: no memory addresses.

    An estimator is described by its class only (its parameters are
    recorded one by one), a function by its module and name.
    """
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__qualname__
    if isinstance(value, (list, tuple)):
        inner = ", ".join(map(_describe, value))
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key!r}: {_describe(item)}" for key, item in value.items()) + "}"
    if isinstance(value, type) or inspect.isroutine(value):
        return f"{value.__module__}.{value.__qualname__}"
    return _ADDRESS.sub("", repr(value))


def _describe_scoring(scoring):
    if scoring is None:
        return "None (the estimator's score method)"
    return scoring if isinstance(scoring, str) else _describe(scoring)


def _describe_cv(cv, folds):
    """The splitter's description, or for folds given as an iterable, their number and a digest of their indices."""
    if hasattr(cv, "cv") and type(cv).__name__ == "_CVIterableWrapper":
        digest = hashlib.sha256()
        for train, test in folds:
            digest.update(
                np.asarray(train, dtype=np.int64).tobytes() + b"|" + np.asarray(test, dtype=np.int64).tobytes()
            )
        return f"{len(folds)} given folds (sha256 {digest.hexdigest()[:16]})"
    return _describe(cv)


def _space_parameter_names(space):
    """Names of the parameters ``space`` draws on a trial of a throwaway study, sampled with a fixed seed.

    The same space draws the same names whatever the function is called;
    a conditional space gives the names of one branch, always the same one.
    """
    import optuna

    with _optuna_verbosity(0):
        probe = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    space(probe)
    return sorted(probe.distributions)


def _estimator_parameters(estimator):
    """Description of every parameter of ``estimator`` (nested ones included), execution parameters left out."""
    if not hasattr(estimator, "get_params"):
        return {}
    return {
        name: _describe(value)
        for name, value in sorted(estimator.get_params(deep=True).items())
        if name.rsplit("__", 1)[-1] not in EXECUTION_PARAMETERS
    }


def _worker():
    return f"{socket.gethostname()}:{os.getpid()}"


def _fail_running_trials(study, worker):
    """Mark the trials this worker left running as failed, so that the study never counts on them."""
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if trial.user_attrs.get("worker") == worker:
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _tuples_restored(params):
    """Trial parameters with the tuples a database or journal storage returns as lists."""
    return {name: _as_tuple(value) for name, value in params.items()}


def _as_tuple(value):
    return tuple(map(_as_tuple, value)) if isinstance(value, list) else value


@contextmanager
def _optuna_verbosity(verbose):
    """Optuna's log level for one search: warnings only, or a line per trial."""
    import optuna

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _epochwise_final(estimator):
    """The :class:`~sklearn_ser.models.EpochwiseClassifier` that ``estimator`` is or ends with, else None.

    None also for a pipeline with a sampler (a step with ``fit_resample``, as
    in imbalanced-learn's pipelines) before its classifier: the sampler
    changes the training labels as well as the features, which only the
    pipeline's own ``fit`` carries through, so such a pipeline is trained
    fold by fold.
    """
    if isinstance(estimator, Pipeline):
        if any(hasattr(step, "fit_resample") for _, step in estimator.steps[:-1]):
            return None
        estimator = estimator.steps[-1][1]
    return estimator if isinstance(estimator, EpochwiseClassifier) else None


def _default_pruner(estimator):
    import optuna

    final = _epochwise_final(estimator)
    warmup = final.max_epochs // 2 if final is not None else 1
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(warmup, 1))


def _fit(estimator, X, y, metadata):
    with sklearn.config_context(enable_metadata_routing=True):
        return estimator.fit(X, y, **consumed(estimator, "fit", metadata))


def _with_metadata(bound_method, estimator, method):
    def call(X, **params):
        with sklearn.config_context(enable_metadata_routing=True):
            params = {key: np.asarray(value) for key, value in params.items() if value is not None}
            return bound_method(X, **consumed(estimator, method, params))

    return call


def _cross_validate_by_fold(estimator, X, y, folds, metadata, scorer, trial):
    """Score of each fold; after each, the mean so far is reported to the trial."""
    import optuna

    scores = []
    with sklearn.config_context(enable_metadata_routing=True):
        for fold, (train, test) in enumerate(folds):
            fit_params = consumed(estimator, "fit", metadata, train)
            fitted = clone(estimator).fit(_safe_indexing(X, train), y[train], **fit_params)
            predicting = _PredictingWith(fitted, consumed(fitted, "predict", metadata, test))
            scores.append(scorer(predicting, _safe_indexing(X, test), y[test]))
            trial.report(float(np.mean(scores)), step=fold)
            if trial.should_prune():
                raise optuna.TrialPruned(f"Pruned after fold {fold}.")
    return scores


def _cross_validate_by_epoch(estimator, X, y, folds, metadata, scorer, trial):
    """Score of each fold of an estimator ending in an epoch-wise classifier, trained epoch by epoch in step.

    Every fold's features are computed first; then each epoch trains every
    fold's classifier once, scores it on the fold's test part and reports
    the score averaged over the folds: the cross-validated learning curve,
    which the pruner compares with other trials' at the same epoch. The
    test parts are only scored, never seen by training (early stopping
    still holds out part of the training data).
    """
    import optuna

    started = [_start_fold(clone(estimator), X, y, train, test, metadata) for train, test in folds]
    for epoch in range(_epochwise_final(estimator).max_epochs):
        scores = []
        for classifier, X_test, y_test in started:
            classifier.train_epochs(1)
            scores.append(scorer(classifier, X_test, y_test))
        trial.report(float(np.mean(scores)), step=epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"Pruned after epoch {epoch + 1}.")
    for classifier, _, _ in started:
        classifier.end_training()
    return [scorer(classifier, X_test, y_test) for classifier, X_test, y_test in started]


def _start_fold(estimator, X, y, train, test, metadata):
    """The fold's untrained final classifier, ready to train, with the fold's test features and labels."""
    X_train, X_test = _safe_indexing(X, train), _safe_indexing(X, test)
    final = _epochwise_final(estimator)
    with sklearn.config_context(enable_metadata_routing=True):
        if isinstance(estimator, Pipeline) and len(estimator) > 1:
            head = estimator[:-1]
            X_train = head.fit_transform(X_train, y[train], **consumed(head, "fit", metadata, train))
            X_test = head.transform(X_test, **consumed(head, "transform", metadata, test))
        final_params = consumed(final, "fit", metadata, train)
    final.start_training(X_train, y[train], **final_params)
    return final, X_test, y[test]


def _estimator_has(method):
    return lambda view: hasattr(view.estimator, method)


class _PredictingWith(ClassifierMixin, BaseEstimator):
    """A fitted classifier whose prediction methods receive fixed metadata.

    Scikit-learn's scorers pass nothing but ``X`` to ``predict``; this view
    lets a fold's test-time metadata (e.g. speaker ids) reach the steps that
    request it.
    """

    def __init__(self, estimator, params):
        self.estimator = estimator
        self.params = params

    @property
    def classes_(self):
        return self.estimator.classes_

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        return self.estimator.predict(X, **self.params)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        return self.estimator.predict_proba(X, **self.params)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        return self.estimator.predict_log_proba(X, **self.params)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        return self.estimator.decision_function(X, **self.params)

    def __sklearn_is_fitted__(self):
        return True
