"""Several feature sequences of one utterance, joined frame by frame."""

from __future__ import annotations

import numpy as np
from sklearn.pipeline import FeatureUnion

from .._sequences import FeatureSequences, SequenceOutputMixin


class SequenceUnion(SequenceOutputMixin, FeatureUnion):
    """Join the sequences of several transformers frame by frame: a FeatureUnion of sequences.

    Each transformer maps the same input (e.g. audio files) to one
    ``(n_frames, n_features)`` sequence per utterance, at the same frame
    rate; the union concatenates, for every utterance, the transformers'
    frames along the features. Frame counts that differ (e.g. 10 ms MFCC,
    which pad the signal at both ends, and openSMILE's 10 ms descriptors,
    which do not) are cut to the shortest, at the end: frame ``t`` of the
    output is frame ``t`` of every transformer.

    It is a :class:`~sklearn.pipeline.FeatureUnion` in every other way:
    parameters, ``n_jobs``, metadata routing and feature names
    (``<transformer>__<feature>``) are its.

    Parameters
    ----------
    transformer_list : list of (str, transformer) tuples
        The transformers, each returning sequences at the same frame rate.
    n_jobs : int or None, default=None
        Transformers run in parallel.
    verbose : bool, default=False
        Print the time each transformer takes.
    verbose_feature_names_out : bool, default=True
        Prefix each feature name with its transformer's name.

    See Also
    --------
    EGeMAPSFrames, MFCC : Sequences at 10 ms frames (at 16 kHz) to join.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn_ser.features import SequenceUnion
    >>> first = FunctionTransformer(lambda X: [x[:, :1] for x in X])
    >>> shorter = FunctionTransformer(lambda X: [x[:-1, 1:] * 10 for x in X])
    >>> union = SequenceUnion([("first", first), ("shorter", shorter)])
    >>> union.fit_transform([np.arange(6.0).reshape(3, 2)])[0]
    array([[ 0., 10.],
           [ 2., 30.]], dtype=float32)
    """

    def __init__(self, transformer_list, *, n_jobs=None, verbose=False, verbose_feature_names_out=True):
        super().__init__(
            transformer_list,
            n_jobs=n_jobs,
            transformer_weights=None,
            verbose=verbose,
            verbose_feature_names_out=verbose_feature_names_out,
        )

    def get_params(self, deep=True):
        params = super().get_params(deep=deep)
        params.pop("transformer_weights", None)
        return params

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _hstack(self, Xs):
        sequences = [list(X) for X in Xs]
        counts = {len(X) for X in sequences}
        if len(counts) != 1:
            raise ValueError(
                f"The transformers returned sequences for different numbers of utterances: {sorted(counts)}."
            )
        joined = []
        for frames in zip(*sequences):
            n_frames = min(len(f) for f in frames)
            joined.append(np.concatenate([np.asarray(f, dtype=np.float32)[:n_frames] for f in frames], axis=1))
        try:
            names = self.get_feature_names_out()
        except (AttributeError, ValueError):
            return joined
        return FeatureSequences(joined, names)
