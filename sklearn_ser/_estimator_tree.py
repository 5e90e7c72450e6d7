"""The estimators a model holds: pipeline steps, union parts, ensemble members, fitted or not."""

from __future__ import annotations

#: The attributes of a fitted meta-estimator that hold the estimators it predicts with.
FITTED_MEMBERS = ("best_estimator_", "estimators_", "estimator_")


def estimators_of_type(model, kind):
    """The estimators of type ``kind`` anywhere in ``model``.

    The tree is walked through what a fitted meta-estimator predicts with
    (``best_estimator_``, ``estimators_``, ``estimator_``) where it has
    them, else through ``get_params(deep=False)``, the public way a
    meta-estimator exposes what it holds (``steps``, ``transformer_list``,
    ``estimators``, ``estimator``, ...).
    """
    found, pending = [], [model]
    while pending:
        estimator = pending.pop()
        if isinstance(estimator, kind):
            found.append(estimator)
        fitted = [getattr(estimator, name) for name in FITTED_MEMBERS if hasattr(estimator, name)]
        if fitted:
            pending.extend(_held_estimators(fitted))
        elif hasattr(estimator, "get_params") and not isinstance(estimator, type):
            pending.extend(_held_estimators(estimator.get_params(deep=False).values()))
    return found


def _held_estimators(values):
    for value in values:
        if hasattr(value, "get_params") and not isinstance(value, type):
            yield value
        elif isinstance(value, (list, tuple)):
            entries = (entry if isinstance(entry, tuple) else (entry,) for entry in value)
            yield from _held_estimators(item for entry in entries for item in entry)
