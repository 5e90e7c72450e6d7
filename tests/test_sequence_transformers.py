import librosa
import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import get_tags

from sklearn_ser.features import (
    DeltaStack,
    FeatureSequences,
    SequencePooling,
    SequenceScaler,
    VectorAsSequence,
    check_sequences,
)


@pytest.fixture
def sequences():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 3)).astype(np.float32) for n in (40, 12, 9)]


@pytest.mark.parametrize("order", [1, 2])
def test_delta_matches_librosa(sequences, order):
    out = DeltaStack(order=order).fit_transform(sequences)
    for sequence, stacked in zip(sequences, out):
        assert stacked.shape == (len(sequence), 3 * (order + 1)) and stacked.dtype == np.float32
        np.testing.assert_array_equal(stacked[:, :3], sequence)
        for k in range(1, order + 1):
            expected = librosa.feature.delta(sequence, order=k, axis=0)
            np.testing.assert_allclose(stacked[:, 3 * k : 3 * (k + 1)], expected, atol=1e-5)


@pytest.mark.parametrize("n_frames", [1, 2, 3, 8])
def test_delta_on_sequences_shorter_than_the_window(n_frames):
    ramp = np.tile(np.arange(n_frames, dtype=np.float32)[:, None], (1, 2))
    (out,) = DeltaStack(order=2, width=9).fit_transform([ramp])
    assert out.shape == (n_frames, 6)
    assert np.isfinite(out).all()
    if n_frames == 1:
        assert not out[:, 2:].any()
    else:
        assert (out[:, 2:4] >= 0).all() and out[:, 2:4].max() > 0


def test_delta_width_must_be_odd(sequences):
    with pytest.raises(ValueError, match="width=4 must be odd"):
        DeltaStack(width=4).fit(sequences)
    with pytest.raises(ValueError, match="'order' parameter"):
        DeltaStack(order=3).fit(sequences)


def test_feature_count_is_checked(sequences):
    delta = DeltaStack().fit(sequences)
    with pytest.raises(ValueError, match=r"X\[0\] has 4 features per frame, expected 3"):
        delta.transform([np.zeros((10, 4))])
    with pytest.raises(NotFittedError):
        DeltaStack().transform(sequences)


def test_names_flow_through(sequences):
    named = FeatureSequences(sequences, ["a", "b", "c"])
    delta = DeltaStack(order=1).fit(named)
    out = delta.transform(named)
    assert list(delta.feature_names_in_) == ["a", "b", "c"]
    assert list(out.feature_names) == ["a", "b", "c", "a_delta", "b_delta", "c_delta"]
    assert not hasattr(DeltaStack().fit(sequences), "feature_names_in_")
    assert list(DeltaStack(order=2).fit(sequences).get_feature_names_out())[-1] == "x2_delta2"


def test_pooling_statistics(sequences):
    stats = ("mean", "std", "min", "max", "median", "q25", "q75", "iqr", "range", "skew", "kurtosis", "slope")
    pooled = SequencePooling(stats=stats).fit_transform(sequences)
    assert pooled.shape == (3, 3 * len(stats)) and pooled.dtype == np.float64
    frames = sequences[1].astype(np.float64)
    row = pooled[1].reshape(len(stats), 3)
    np.testing.assert_allclose(row[0], frames.mean(axis=0))
    np.testing.assert_allclose(row[1], frames.std(axis=0))
    np.testing.assert_allclose(row[7], np.percentile(frames, 75, axis=0) - np.percentile(frames, 25, axis=0))
    np.testing.assert_allclose(row[11], np.polyfit(np.arange(12), frames, 1)[0])


def test_pooling_constant_and_single_frame_sequences():
    pooled = SequencePooling(stats=("std", "skew", "kurtosis", "slope")).fit_transform(
        [np.ones((5, 2)), np.array([[1.0, 2.0]])]
    )
    np.testing.assert_array_equal(pooled, np.zeros((2, 8)))


@pytest.mark.parametrize("stats", [("mean", "mode"), (), ("mean", "mean")])
def test_pooling_rejects_bad_stats(sequences, stats):
    with pytest.raises(ValueError, match="stats must be a non-empty tuple of distinct names"):
        SequencePooling(stats=stats).fit(sequences)


def test_pooling_names(sequences):
    pool = SequencePooling(stats=("mean", "slope")).fit(FeatureSequences(sequences, ["f0", "rms", "zcr"]))
    expected = ["f0_mean", "rms_mean", "zcr_mean", "f0_slope", "rms_slope", "zcr_slope"]
    assert list(pool.get_feature_names_out()) == expected


@pytest.mark.parametrize(
    "X, match",
    [
        (np.zeros((4, 3)), "Expected feature sequences"),
        ([], "X is empty"),
        ([np.zeros(5)], r"X\[0\] must be a 2-D"),
        ([np.zeros((0, 3))], r"X\[0\] is empty: 0 frame\(s\) \(shape=\(0, 3\)\)"),
        ([np.zeros((2, 0))], r"X\[0\] is empty: 0 feature\(s\) \(shape=\(2, 0\)\)"),
        ([np.zeros((2, 3)), np.ones((2, 3)) * 1j], r"Complex data not supported: X\[1\] holds complex values"),
        (
            scipy.sparse.csr_matrix(np.ones((2, 3))),
            "got a sparse matrix \\(csr_matrix\\): sparse input is not supported",
        ),
        ([np.zeros((2, 3)), np.full((2, 3), np.nan)], r"X\[1\] holds NaN"),
        ([np.zeros((2, 3)), np.zeros((2, 4))], r"X\[1\] has 4 features per frame, expected 3"),
        (["a.wav"], r"X\[0\] is not a numeric .* could not convert string to float"),
        ("a.wav", "Expected a list of feature sequences"),
    ],
)
def test_check_sequences_names_the_problem(X, match):
    with pytest.raises(ValueError, match=match):
        check_sequences(X)


def test_objects_that_are_not_numbers_are_a_type_error():
    with pytest.raises(TypeError, match=r"X\[1\] is not a numeric .* not 'dict'"):
        check_sequences([np.zeros((2, 2)), np.array([[{"a": 1}, 2.0]], dtype=object)])


@pytest.mark.parametrize("transformer", [DeltaStack(), SequenceScaler()])
def test_sequence_transformers_output_float32_whatever_the_input(sequences, transformer):
    assert get_tags(transformer).transformer_tags.preserves_dtype == ["float32"]
    for dtype in (np.float64, np.float32, np.int64):
        out = clone(transformer).fit_transform([s.astype(dtype) for s in sequences])
        assert {o.dtype for o in out} == {np.dtype(np.float32)}


def test_three_dimensional_batches_are_sequences():
    batch = np.zeros((4, 10, 3))
    assert [s.shape for s in check_sequences(batch)] == [(10, 3)] * 4
    assert SequencePooling().fit_transform(batch).shape == (4, 6)


def test_sequence_scaler_standardizes_over_all_frames(sequences):
    scaler = SequenceScaler().fit(sequences)
    frames = np.concatenate(scaler.transform(sequences))
    np.testing.assert_allclose(frames.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(frames.std(axis=0), 1, atol=1e-5)
    constant = SequenceScaler().fit([np.full((4, 2), 3.0)])
    np.testing.assert_array_equal(constant.transform([np.full((2, 2), 5.0)])[0], np.full((2, 2), 2.0))
    with pytest.raises(ValueError, match="expected 3"):
        scaler.transform([np.zeros((2, 5))])


def test_vector_as_sequence():
    X = np.arange(24.0).reshape(3, 8)
    out = VectorAsSequence().fit_transform(X)
    assert [s.shape for s in out] == [(8, 1)] * 3
    np.testing.assert_array_equal(out[2][:, 0], X[2])
    assert VectorAsSequence(step_size=4).fit_transform(X)[0].shape == (2, 4)
    with pytest.raises(ValueError, match="step_size=3 does not divide the 8 columns"):
        VectorAsSequence(step_size=3).fit(X)
    with pytest.raises(ValueError, match="X has 4 features, but VectorAsSequence is expecting 8 features"):
        VectorAsSequence().fit(X).transform(np.zeros((1, 4)))
    named = VectorAsSequence().fit(pd.DataFrame(X, columns=[f"mfcc_{i}" for i in range(8)]))
    assert list(named.feature_names_in_) == [f"mfcc_{i}" for i in range(8)]
    assert VectorAsSequence().fit_transform(X.astype(np.float64))[0].dtype == np.float32
