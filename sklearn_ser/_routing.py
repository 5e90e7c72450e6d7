"""The per-sample metadata a step requests, under scikit-learn's metadata routing."""

import inspect
import warnings

import numpy as np
import sklearn
from sklearn.utils.metadata_routing import MetadataRequest, get_routing_for_object


def consumed(estimator, method, metadata, indices=None):
    """The entries of ``metadata`` that ``estimator``'s ``method`` requests, cut to ``indices``.

    Call it with metadata routing enabled (``sklearn.config_context``); None
    values are left out.
    """
    routing = get_routing_for_object(estimator)
    return {
        key: value if indices is None else value[indices]
        for key, value in metadata.items()
        if value is not None and routing.consumes(method, [key])
    }


def splitter_takes_groups(cv):
    """Whether ``groups`` goes to the splitter ``cv``'s ``split``: always, unless it cannot take them or declines them.

    This is what scikit-learn's cross-validation does without metadata
    routing. Under routing a group splitter written without
    ``GroupsConsumerMixin`` requests nothing, yet needs the groups; only a
    splitter whose ``split`` has no ``groups`` parameter (nor ``**kwargs``),
    or one told ``set_split_request(groups=False)``, goes without.
    """
    split = getattr(cv, "split", None)
    if split is None:
        return False
    try:
        parameters = inspect.signature(split).parameters.values()
    except (TypeError, ValueError):
        return True
    if not any(p.name == "groups" or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return False
    with sklearn.config_context(enable_metadata_routing=True):
        request = getattr(get_routing_for_object(cv), "split", None)
    return getattr(request, "requests", {}).get("groups") is not False


def split(cv, X, y, groups=None):
    """The folds ``(train, test)`` of the splitter ``cv``, given ``groups`` whenever it may use them.

    ``groups`` (e.g. speaker ids) reaches ``cv.split`` as
    :func:`splitter_takes_groups` says, whatever the estimator's fit takes
    or requests; the warning of a splitter that ignores them (``KFold``:
    "The groups parameter is ignored") is not shown, as the same groups may
    be meant for the steps that request them.

    Returns
    -------
    folds : list of (ndarray, ndarray)
    """
    if groups is None or not splitter_takes_groups(cv):
        return list(cv.split(X, y))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The groups parameter is ignored by", category=UserWarning)
        return list(cv.split(X, y, groups=groups))


def splitter_routing(cv):
    """``cv``'s metadata routing, with ``groups`` requested by ``split`` when :func:`split` gives them.

    For a router that adds the splitter as a child, so that an outer router
    (a nested cross-validation) passes on the groups it needs.
    """
    routing = get_routing_for_object(cv)
    if not splitter_takes_groups(cv) or routing.consumes("split", ["groups"]):
        return routing
    request = MetadataRequest(owner=cv)
    request.split.add_request(param="groups", alias=True)
    return request


def as_one_speaker(estimator, method, speaker):
    """``estimator``'s ``method`` on a list of items, every item routed as ``speaker``'s.

    Raises
    ------
    ValueError
        If ``method`` uses no speaker ids (the estimator has no
        SpeakerNormalizer).
    """
    with sklearn.config_context(enable_metadata_routing=True):
        if not consumed(estimator, method, {"speaker": np.array([speaker], dtype=object)}):
            raise ValueError(
                f"A speaker ({speaker!r}) was given, but the model does not use speaker ids in {method} "
                "(it has no SpeakerNormalizer): leave the speaker out."
            )

    def predict(items):
        with sklearn.config_context(enable_metadata_routing=True):
            return getattr(estimator, method)(items, speaker=np.full(len(items), speaker, dtype=object))

    return predict
