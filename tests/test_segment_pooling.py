import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser._sequences import sliding_starts
from sklearn_ser.features import DeltaStack, FeatureSequences, SegmentPooling, SequencePooling


@pytest.mark.parametrize(
    ("n_frames", "segment_frames", "segment_hop", "expected"),
    [(10, 4, 2, [0, 2, 4, 6]), (11, 4, 2, [0, 2, 4, 6, 7]), (3, 4, 2, [0]), (4, 4, 4, [0]), (9, 4, 4, [0, 4, 5])],
)
def test_segments_cover_every_frame(n_frames, segment_frames, segment_hop, expected):
    starts = sliding_starts(n_frames, segment_frames, segment_hop)
    assert starts.tolist() == expected
    covered = np.zeros(n_frames, bool)
    for start in starts:
        covered[start : start + segment_frames] = True
    assert covered.all()


def test_each_segment_gets_the_statistics_of_sequence_pooling():
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(n, 3)).astype(np.float32) for n in (37, 5, 50)]
    stats = ("mean", "std", "slope")
    pool = SegmentPooling(segment_frames=10, segment_hop=5, stats=stats).fit(sequences)
    out = pool.transform(sequences)
    assert isinstance(out, FeatureSequences) and [s.shape for s in out] == [(7, 9), (1, 9), (9, 9)]
    reference = SequencePooling(stats=stats).fit(sequences)
    for sequence, pooled in zip(sequences, out):
        starts = sliding_starts(len(sequence), 10, 5)
        expected = reference.transform([sequence[start : start + 10] for start in starts])
        np.testing.assert_allclose(pooled, expected, rtol=1e-6, atol=1e-6)
        assert pooled.dtype == np.float32


def test_feature_names_follow_the_input():
    pipe = make_pipeline(DeltaStack(order=1), SegmentPooling(stats=("mean", "max"))).fit([np.ones((20, 2))])
    names = ["x0_mean", "x1_mean", "x0_delta_mean", "x1_delta_mean", "x0_max", "x1_max", "x0_delta_max", "x1_delta_max"]
    assert pipe.get_feature_names_out().tolist() == names
    assert pipe.transform([np.ones((20, 2))]).feature_names.tolist() == names
    assert SegmentPooling().fit([np.ones((3, 2))]).get_feature_names_out(["a", "b"]).tolist()[-1] == "b_std"


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"segment_hop": 60}, ValueError, "segment_hop=60 is larger than segment_frames=50"),
        ({"segment_frames": 0}, InvalidParameterError, "segment_frames"),
        ({"stats": ("mean", "nope")}, ValueError, "stats must be"),
        ({"stats": ()}, ValueError, "stats must be"),
    ],
)
def test_bad_parameters_are_named(params, error, match):
    with pytest.raises(error, match=match):
        SegmentPooling(**params).fit([np.zeros((5, 2))])


def test_a_sequence_with_another_number_of_features_is_refused():
    pool = clone(SegmentPooling()).fit([np.zeros((5, 2))])
    with pytest.raises(ValueError, match="features"):
        pool.transform([np.zeros((5, 3))])
