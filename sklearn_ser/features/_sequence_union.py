"""Several feature sequences of one utterance, joined frame by frame."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.pipeline import FeatureUnion
from sklearn.utils._param_validation import Interval

from .._sampling_rates import check_shared_waveform_rate
from .._sequences import FeatureSequences, SequenceOutputMixin, holds_sequences


class SequenceUnion(SequenceOutputMixin, FeatureUnion):
    """Join the sequences of several transformers frame by frame: a FeatureUnion of sequences.

    Each transformer maps the same input (e.g. audio files) to one
    ``(n_frames, n_features)`` sequence per utterance, at the same frame
    rate; the union concatenates, for every utterance, the transformers'
    frames along the features. Frame counts that differ (e.g. 10 ms MFCC,
    which pad the signal at both ends, and openSMILE's 10 ms descriptors,
    which do not) are cut to the shortest, at the end: frame ``t`` of the
    output is frame ``t`` of every transformer. With ``repeat_tables=True``
    a transformer may instead return a table, one row per utterance (e.g.
    the functionals of :class:`EGeMAPS`): its row is repeated on every frame
    of the utterance, so that a sequence model sees the whole utterance's
    summary beside each frame.

    Transformers that read audio at different sampling rates (e.g.
    ``MFCC(sr=16000)`` and ``EGeMAPSFrames(sr=8000)``) may share audio file
    paths, which each decodes and resamples to its own rate, but not
    waveforms: a waveform has a single rate, so the union refuses waveforms
    then, with a ``ValueError`` naming two such transformers.

    It is a :class:`~sklearn.pipeline.FeatureUnion` in every other way:
    parameters, ``n_jobs``, metadata routing and feature names
    (``<transformer>__<feature>``) are its.

    Parameters
    ----------
    transformer_list : list of (str, transformer) tuples
        The transformers, each returning sequences at the same frame rate;
        ``"drop"`` leaves one out (e.g. ``set_params(name="drop")`` for an
        ablation), ``"passthrough"`` is not supported.
    max_frame_difference : int, default=10
        The most frames by which an utterance's sequences may differ in
        length; more is refused with a ``ValueError``, as a sign of frame
        rates that differ.
    repeat_tables : bool, default=False
        Accept transformers that return a table of shape
        ``(n_samples, n_features)`` and repeat each utterance's row on its
        frames; at least one transformer must return sequences. False
        refuses tables, naming the transformer (a table where sequences were
        expected is usually a pooling step too many).
    n_jobs : int or None, default=None
        Transformers run in parallel.
    verbose : bool, default=False
        Print the time each transformer takes.
    verbose_feature_names_out : bool, default=True
        Prefix each feature name with its transformer's name.

    Attributes
    ----------
    named_transformers : :class:`~sklearn.utils.Bunch`
        The transformers by name (fitted after :meth:`fit`).

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

    A table's row repeated on every frame:

    >>> total = FunctionTransformer(lambda X: np.array([[x.sum()] for x in X]))
    >>> union = SequenceUnion([("first", first), ("total", total)], repeat_tables=True)
    >>> union.fit_transform([np.arange(6.0).reshape(3, 2)])[0]
    array([[ 0., 15.],
           [ 2., 15.],
           [ 4., 15.]], dtype=float32)
    """

    _parameter_constraints = {
        "transformer_list": [list],
        "max_frame_difference": [Interval(Integral, 0, None, closed="left")],
        "repeat_tables": ["boolean"],
        "n_jobs": [Integral, None],
        "verbose": ["boolean"],
        "verbose_feature_names_out": ["boolean"],
    }

    def __init__(
        self,
        transformer_list,
        *,
        max_frame_difference=10,
        repeat_tables=False,
        n_jobs=None,
        verbose=False,
        verbose_feature_names_out=True,
    ):
        super().__init__(
            transformer_list,
            n_jobs=n_jobs,
            transformer_weights=None,
            verbose=verbose,
            verbose_feature_names_out=verbose_feature_names_out,
        )
        self.max_frame_difference = max_frame_difference
        self.repeat_tables = repeat_tables

    def fit(self, X, y=None, **params):
        """Fit every transformer on ``X``.

        Parameters
        ----------
        X : sequence of paths, waveforms or sequences
            What the transformers take.
        y : array-like of shape (n_samples,), optional
            Targets, for transformers that use them.
        **params
            Metadata routed to the transformers, as for
            :class:`~sklearn.pipeline.FeatureUnion`.

        Returns
        -------
        self : object
        """
        self._validate_params()
        self._check_transformers()
        self._check_rates(X)
        return super().fit(X, y, **params)

    def fit_transform(self, X, y=None, **params):
        """Fit every transformer on ``X`` and join their sequences.

        Parameters
        ----------
        X : sequence of paths, waveforms or sequences
            What the transformers take.
        y : array-like of shape (n_samples,), optional
            Targets, for transformers that use them.
        **params
            Metadata routed to the transformers.

        Returns
        -------
        sequences : FeatureSequences
        """
        self._validate_params()
        self._check_transformers()
        self._check_rates(X)
        return super().fit_transform(X, y, **params)

    def transform(self, X, **params):
        """Join the sequences of the fitted transformers.

        Parameters
        ----------
        X : sequence of paths, waveforms or sequences
            What the transformers take.
        **params
            Metadata routed to the transformers.

        Returns
        -------
        sequences : FeatureSequences
        """
        self._check_rates(X)
        return super().transform(X, **params)

    @property
    def n_features_in_(self):
        """Features of ``X`` seen by the first transformer not dropped in :meth:`fit`, when it records them."""
        return self._first_transformer().n_features_in_

    @property
    def feature_names_in_(self):
        """Names of the features of ``X`` seen by the first transformer not dropped, when it records them."""
        return self._first_transformer().feature_names_in_

    def _first_transformer(self):
        return next(transformer for _, transformer, _ in self._iter())

    def _check_transformers(self):
        for index, item in enumerate(self.transformer_list):
            if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)):
                raise ValueError(
                    f"transformer_list must be a list of (name, transformer) tuples; transformer_list[{index}] "
                    f"is {item!r}."
                )
        if all(isinstance(transformer, str) and transformer == "drop" for _, transformer in self.transformer_list):
            raise ValueError("Every transformer of the SequenceUnion is 'drop': there are no sequences to join.")
        for name, transformer in self.transformer_list:
            if isinstance(transformer, str) and transformer != "drop":
                raise ValueError(
                    f"SequenceUnion joins the sequences of transformers; {name!r} is {transformer!r}, "
                    "which it does not support."
                )

    def _check_rates(self, X):
        parts = [(name, transformer) for name, transformer in self.transformer_list if not isinstance(transformer, str)]
        check_shared_waveform_rate(X, parts, owner="SequenceUnion", part_kind="transformer")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _hstack(self, Xs):
        names = [name for name, _, _ in self._iter()]
        outputs = [self._sequences_or_rows(name, X) for name, X in zip(names, Xs)]
        counts = {len(X) for X in outputs}
        if len(counts) != 1:
            raise ValueError(
                f"The transformers returned sequences for different numbers of utterances: {sorted(counts)}."
            )
        sequence_names = [name for name, X in zip(names, outputs) if not isinstance(X, np.ndarray)]
        if not sequence_names:
            raise ValueError("Every transformer returned a table; SequenceUnion needs at least one of sequences.")
        joined = []
        for index, items in enumerate(zip(*outputs)):
            lengths = [len(item) for item in items if item.ndim == 2]
            if max(lengths) - min(lengths) > self.max_frame_difference:
                counts = ", ".join(f"{name}: {length}" for name, length in zip(sequence_names, lengths))
                raise ValueError(
                    f"Utterance {index} has sequences of different lengths ({counts} frames), more than "
                    f"max_frame_difference={self.max_frame_difference} apart: are the frame rates the same?"
                )
            n_frames = min(lengths)
            parts = [item[:n_frames] if item.ndim == 2 else np.tile(item, (n_frames, 1)) for item in items]
            joined.append(np.concatenate(parts, axis=1))
        try:
            feature_names = self.get_feature_names_out()
        except AttributeError:  # a transformer without get_feature_names_out
            return joined
        return FeatureSequences(joined, feature_names)

    def _sequences_or_rows(self, name, X):
        """A transformer's output as a list of float32 sequences, or (a table) a float32 array of rows."""
        if holds_sequences(X):
            sequences = [np.asarray(x, dtype=np.float32) for x in X]
            if any(x.ndim != 2 for x in sequences):
                raise ValueError(f"Transformer {name!r} did not return (n_frames, n_features) sequences.")
            return sequences
        rows = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float32)
        if rows.ndim != 2:
            raise ValueError(f"Transformer {name!r} did not return (n_frames, n_features) sequences.")
        if not self.repeat_tables:
            raise ValueError(
                f"Transformer {name!r} did not return (n_frames, n_features) sequences but a table of shape "
                f"{rows.shape}; pass repeat_tables=True to repeat each utterance's row on its frames."
            )
        return rows
