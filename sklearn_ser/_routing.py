"""The per-sample metadata a step requests, under scikit-learn's metadata routing."""

from sklearn.utils.metadata_routing import get_routing_for_object


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
