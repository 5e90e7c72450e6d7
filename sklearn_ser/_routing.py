"""The per-sample metadata a step requests, under scikit-learn's metadata routing."""

import numpy as np
import sklearn
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
