"""Statistics over sliding segments: from frame sequences to shorter sequences of segment statistics."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval

from .._sequences import SequenceTransformer, sliding_starts
from ._pooling import check_stats, frame_statistics_row, statistics_names


class SegmentPooling(SequenceTransformer):
    """Summarise every segment of each feature sequence by statistics: a sequence of segment statistics.

    Each sequence of frames is cut into segments of ``segment_frames``
    frames, one every ``segment_hop`` frames (the last segment ends at the
    last frame, so that every frame is covered), and each segment becomes
    one output frame: the ``stats`` of its frames, as
    :class:`SequencePooling` computes them for a whole utterance. A
    sequence of at most ``segment_frames`` frames gives one output frame.

    A sequence model over segment statistics sees the utterance at a coarse
    rate (with the defaults and 10 ms frames: half-second segments every
    250 ms), in robust summaries rather than single frames; this is the
    segment-level input of a CNN-LSTM without the CNN.

    Parameters
    ----------
    segment_frames : int, default=50
        Frames per segment.
    segment_hop : int, default=25
        Frames between the starts of successive segments, at most
        ``segment_frames``.
    stats : tuple of str, default=("mean", "std")
        Statistics per feature over a segment's frames, in order; the names
        of :class:`SequencePooling`.

    Attributes
    ----------
    n_features_in_ : int
        Features per frame seen in :meth:`fit`.
    feature_names_in_ : ndarray of str objects
        Names of those features, when the input carried them. Defined only then.

    See Also
    --------
    SequencePooling : The statistics over the whole utterance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_ser.features import SegmentPooling
    >>> sequence = np.arange(10, dtype=np.float32).reshape(5, 2)
    >>> pool = SegmentPooling(segment_frames=2, segment_hop=2, stats=("mean",)).fit([sequence])
    >>> pool.transform([sequence])[0]
    array([[1., 2.],
           [5., 6.],
           [7., 8.]], dtype=float32)
    >>> pool.get_feature_names_out(["f0", "energy"])
    array(['f0_mean', 'energy_mean'], dtype=object)
    """

    _parameter_constraints = {
        "segment_frames": [Interval(Integral, 1, None, closed="left")],
        "segment_hop": [Interval(Integral, 1, None, closed="left")],
        "stats": [tuple, list],
    }

    def __init__(self, *, segment_frames=50, segment_hop=25, stats=("mean", "std")):
        self.segment_frames = segment_frames
        self.segment_hop = segment_hop
        self.stats = stats

    def get_feature_names_out(self, input_features=None):
        """Names ``<feature>_<statistic>``, statistic-major, as :class:`SequencePooling` gives them.

        Parameters
        ----------
        input_features : array-like of str or None
            Names of the per-frame features; ``x0, x1, ...`` when None.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        return statistics_names(self, input_features)

    def _transform_one(self, sequence):
        frames = sequence.astype(np.float64)
        starts = sliding_starts(len(frames), self.segment_frames, self.segment_hop)
        segments = [frames[start : start + self.segment_frames] for start in starts]
        return np.asarray([frame_statistics_row(segment, self.stats) for segment in segments], dtype=np.float32)

    def _check_params(self):
        check_stats(self.stats)
        if self.segment_hop > self.segment_frames:
            raise ValueError(
                f"segment_hop={self.segment_hop} is larger than segment_frames={self.segment_frames}: "
                "frames between segments would be left out."
            )
