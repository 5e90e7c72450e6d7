"""The estimators a model holds: pipeline steps, union parts, ensemble members, fitted or not."""

from __future__ import annotations

#: The attributes of a fitted meta-estimator that hold the estimators it predicts with.
FITTED_MEMBERS = ("best_estimator_", "estimators_", "estimator_")


def named_estimators(model, name=""):
    """Every estimator in ``model`` (itself first), with where it is, in the order of the steps.

    The tree is walked through what a fitted meta-estimator predicts with
    (``best_estimator_``, ``estimators_``, ``estimator_``) where it has
    them, else through ``get_params(deep=False)``, the public way a
    meta-estimator exposes what it holds (``steps``, ``transformer_list``,
    ``estimators``, ``estimator``, ...).

    Parameters
    ----------
    model : estimator
    name : str, default=""
        The name of ``model`` itself, which prefixes the paths.

    Yields
    ------
    path : str
        Where the estimator is, as a parameter name (``"features__mfcc"``;
        ``name`` for ``model`` itself); an unnamed member of a list is
        ``"estimators_[0]"``.
    estimator : estimator
    """
    yield name, model
    for child_name, child in _children(model):
        yield from named_estimators(child, f"{name}__{child_name}" if name else child_name)


def estimators_of_type(model, kind):
    """The estimators of type ``kind`` anywhere in ``model`` (see :func:`named_estimators`)."""
    return [estimator for _, estimator in named_estimators(model) if isinstance(estimator, kind)]


def _children(estimator):
    if isinstance(estimator, type):
        return
    fitted = [attribute for attribute in FITTED_MEMBERS if hasattr(estimator, attribute)]
    if fitted:
        items = [(attribute, getattr(estimator, attribute)) for attribute in fitted]
    elif hasattr(estimator, "get_params"):
        items = list(estimator.get_params(deep=False).items())
    else:
        return
    for key, value in items:
        if _is_estimator(value):
            yield key, value
        elif isinstance(value, (list, tuple)):
            for index, entry in enumerate(value):
                if isinstance(entry, (list, tuple)) and len(entry) >= 2 and isinstance(entry[0], str):
                    if _is_estimator(entry[1]):  # (name, estimator) or (name, transformer, columns)
                        yield entry[0], entry[1]
                elif _is_estimator(entry):
                    yield f"{key}[{index}]", entry


def _is_estimator(value):
    return hasattr(value, "get_params") and not isinstance(value, type)
