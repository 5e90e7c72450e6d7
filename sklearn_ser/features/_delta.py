"""Delta (time-derivative) features appended to feature sequences."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from .._sequences import SequenceTransformer


class DeltaStack(SequenceTransformer):
    """Append delta and delta-delta features to every frame.

    For each sequence of shape ``(n_frames, n_features)`` the output is
    ``[static, delta]`` (``order=1``) or ``[static, delta, delta-delta]``
    (``order=2``) along the feature axis, with the derivatives estimated by
    :func:`librosa.feature.delta` (a Savitzky-Golay filter of ``width``
    frames, interpolating at the edges). A sequence with fewer than
    ``width`` frames cannot be interpolated over the whole window; its
    derivatives are then computed with the edge frames repeated
    (``mode="nearest"``), and a single frame has derivatives of zero.

    Parameters
    ----------
    order : {1, 2}, default=2
        Highest derivative appended.
    width : int, default=9
        Odd number of frames (at least 3) over which derivatives are
        estimated.

    Attributes
    ----------
    n_features_in_ : int
        Features per frame seen in :meth:`fit`.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them (the output of
        a feature transformer does). Defined only then.

    See Also
    --------
    MelSpectrogram, MFCC : Produce the sequences this transformer extends.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import DeltaStack
    >>> sequences = [np.arange(20, dtype="float32").reshape(10, 2)]
    >>> out = DeltaStack(order=2).fit_transform(sequences)
    >>> out[0].shape
    (10, 6)
    >>> out[0][4]  # static, delta (slope 2 per frame), delta-delta
    array([8., 9., 2., 2., 0., 0.], dtype=float32)
    >>> DeltaStack(order=1).fit(sequences).get_feature_names_out(["a", "b"])
    array(['a', 'b', 'a_delta', 'b_delta'], dtype=object)
    """

    _parameter_constraints = {
        "order": [Interval(Integral, 1, 2, closed="both")],
        "width": [Interval(Integral, 3, None, closed="left")],
    }

    def __init__(self, *, order=2, width=9):
        self.order = order
        self.width = width

    def _check_params(self):
        if self.width % 2 == 0:
            raise ValueError(f"width={self.width} must be odd.")

    def _transform_one(self, sequence):
        import librosa

        n_frames = len(sequence)
        parts = [sequence]
        for order in range(1, self.order + 1):
            if n_frames == 1:
                parts.append(np.zeros_like(sequence))
            elif n_frames >= self.width:
                parts.append(librosa.feature.delta(sequence, width=self.width, order=order, axis=0))
            else:
                parts.append(librosa.feature.delta(sequence, width=self.width, order=order, axis=0, mode="nearest"))
        return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)

    def _feature_names_out(self, names):
        suffixes = ["", "_delta", "_delta2"][: self.order + 1]
        return np.asarray([f"{name}{suffix}" for suffix in suffixes for name in names], dtype=object)
