"""Consistency checks of a rebuilt model that no single node can make: widths that must agree."""

from __future__ import annotations

import numpy as np

from .._estimator_tree import estimators_of_type

#: Fitted attributes with one entry per input feature.
PER_FEATURE = ("mean_", "scale_", "var_", "std_", "feature_names_in_")


def check_widths(model):
    """Raise ValueError if a per-feature array disagrees with ``n_features_in_``, or a pipeline's widths don't chain."""
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

    for estimator in estimators_of_type(model, BaseEstimator):
        width = vars(estimator).get("n_features_in_")
        for key in PER_FEATURE:
            value = vars(estimator).get(key)
            if width is not None and isinstance(value, np.ndarray) and value.shape != (width,):
                raise ValueError(
                    f"the {type(estimator).__name__}'s {key!r} has shape {value.shape} but n_features_in_ is {width}"
                )
        if isinstance(estimator, Pipeline):
            _check_chain(estimator)


def _check_chain(pipeline):
    steps = [(name, step) for name, step in pipeline.steps if step not in (None, "passthrough")]
    for (name, step), (next_name, next_step) in zip(steps, steps[1:]):
        expected = vars(next_step).get("n_features_in_")
        try:
            width = len(step.get_feature_names_out())
        except Exception:  # a step that cannot name its features (or not yet): nothing to compare
            continue
        if expected is not None and width != expected:
            raise ValueError(
                f"step {name!r} gives {width} features but step {next_name!r} was fitted on n_features_in_={expected}"
            )
