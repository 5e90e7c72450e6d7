import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.preprocessing import FunctionTransformer

from sklearn_ser.features import MFCC, EGeMAPSFrames, FeatureSequences, SequenceScaler, SequenceUnion

from .conftest import tone


def columns(start, stop, drop_last=0):
    return FunctionTransformer(lambda X: [x[: len(x) - drop_last, start:stop] for x in X])


def test_frames_are_joined_and_cut_to_the_shortest():
    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(n, 4)).astype(np.float32) for n in (9, 3)]
    union = SequenceUnion([("a", columns(0, 1)), ("b", columns(1, 4, drop_last=2))])
    out = union.fit_transform(sequences)
    assert [x.shape for x in out] == [(7, 4), (1, 4)]
    for x, joined in zip(sequences, out):
        np.testing.assert_array_equal(joined, x[: len(joined)])
    np.testing.assert_array_equal(union.transform(sequences)[0], out[0])


def test_audio_transformers_join_at_10_ms_frames_with_their_names():
    y = tone(16000, seconds=0.7, freq=180, amplitude=0.3)
    mfcc, descriptors = MFCC(n_mfcc=13), EGeMAPSFrames()
    union = SequenceUnion([("mfcc", mfcc), ("egemaps", descriptors)])
    out = union.fit_transform([y])
    assert isinstance(out, FeatureSequences)
    first, second = mfcc.fit_transform([y])[0], descriptors.fit_transform([y])[0]
    n_frames = min(len(first), len(second))
    assert abs(len(first) - len(second)) <= 5 and out[0].shape == (n_frames, 13 + 25)
    np.testing.assert_array_equal(out[0], np.hstack([first[:n_frames], second[:n_frames]]))
    assert out.feature_names[0] == "mfcc__mfcc_0" and out.feature_names[13] == "egemaps__Loudness_sma3"


@pytest.mark.filterwarnings("ignore:When `set_output` is configured to be 'pandas'")
def test_parameters_clone_and_global_pandas_output_leave_sequences_alone():
    union = SequenceUnion([("a", columns(0, 1)), ("b", columns(1, 2))])
    assert "transformer_weights" not in union.get_params()
    assert clone(union).set_params(a__kw_args=None).get_params()["a__kw_args"] is None
    with sklearn.config_context(transform_output="pandas"):
        out = union.fit_transform([np.ones((3, 2))])
    assert isinstance(out, list) and out[0].shape == (3, 2)


def test_transformers_that_disagree_on_the_utterances_are_refused():
    union = SequenceUnion([("a", columns(0, 1)), ("b", FunctionTransformer(lambda X: list(X)[:1]))])
    with pytest.raises(ValueError, match="different numbers of utterances"):
        union.fit_transform([np.ones((3, 2)), np.ones((4, 2))])


def test_sequences_of_other_frame_rates_are_refused_naming_the_transformers():
    sequences = [np.ones((40, 2), np.float32)]
    halved = FunctionTransformer(lambda X: [x[::2, 1:] for x in X])
    union = SequenceUnion([("full", columns(0, 1)), ("halved", halved)])
    with pytest.raises(ValueError, match=r"Utterance 0 .*full: 40, halved: 20 frames.*max_frame_difference=10"):
        union.fit_transform(sequences)
    assert union.set_params(max_frame_difference=20).fit_transform(sequences)[0].shape == (20, 2)


def test_passthrough_is_refused():
    with pytest.raises(ValueError, match="'b' is 'passthrough'"):
        SequenceUnion([("a", columns(0, 1)), ("b", "passthrough")]).fit([np.ones((3, 2))])


def named_columns(start, stop):
    names = np.array([f"x{i}" for i in range(start, stop)], dtype=object)
    return FunctionTransformer(lambda X: [x[:, start:stop] for x in X], feature_names_out=lambda _, __: names)


def test_a_dropped_transformer_is_left_out_of_frames_names_and_checks():
    sequences = [np.arange(12.0).reshape(6, 2)]
    halved = FunctionTransformer(lambda X: [x[::2] for x in X], feature_names_out="one-to-one")
    union = SequenceUnion(
        [("a", named_columns(0, 1)), ("halved", halved), ("b", named_columns(1, 2))], max_frame_difference=1
    )
    out = union.set_params(halved="drop").fit_transform(sequences)
    np.testing.assert_array_equal(out[0], sequences[0])
    assert list(out.feature_names) == ["a__x0", "b__x1"]
    with pytest.raises(ValueError, match="different lengths"):
        union.set_params(halved=halved).fit_transform(sequences)


def test_the_first_member_may_be_dropped_but_not_every_member():
    sequences = [np.arange(12.0).reshape(6, 2)]
    scaler = SequenceUnion([("a", "drop"), ("b", SequenceScaler())]).fit(sequences)
    assert scaler.n_features_in_ == 2
    np.testing.assert_allclose(scaler.transform(sequences)[0].mean(axis=0), 0, atol=1e-6)
    with pytest.raises(ValueError, match="Every transformer of the SequenceUnion is 'drop'"):
        SequenceUnion([("a", "drop"), ("b", "drop")]).fit(sequences)


def test_a_transformer_returning_a_table_is_named():
    table = FunctionTransformer(lambda X: np.ones((len(X), 2)))
    with pytest.raises(ValueError, match="'table' did not return"):
        SequenceUnion([("a", columns(0, 1)), ("table", table)]).fit_transform([np.ones((3, 2))])


def test_a_table_is_refused_unless_repeated_and_then_fills_every_frame():
    sequences = [np.arange(10.0).reshape(5, 2), np.arange(4.0).reshape(2, 2)]
    sums = FunctionTransformer(lambda X: np.array([[x.sum(), len(x)] for x in X]))
    union = SequenceUnion([("a", columns(0, 1)), ("sums", sums)])
    with pytest.raises(ValueError, match=r"'sums' did not return .*table of shape \(2, 2\).*repeat_tables=True"):
        union.fit_transform(sequences)
    out = union.set_params(repeat_tables=True).fit_transform(sequences)
    assert [x.shape for x in out] == [(5, 3), (2, 3)]
    for x, joined in zip(sequences, out):
        np.testing.assert_array_equal(joined[:, 0], x[:, 0])
        np.testing.assert_array_equal(joined[:, 1:], np.tile([x.sum(), len(x)], (len(x), 1)))


def test_repeated_tables_keep_their_names_and_may_be_data_frames():
    import pandas as pd

    frames = [np.ones((3, 2)), np.zeros((4, 2))]
    mfcc_like = FunctionTransformer(lambda X: list(X), feature_names_out=lambda _, __: np.array(["x0", "x1"]))
    table = FunctionTransformer(
        lambda X: pd.DataFrame({"mean": [x.mean() for x in X]}), feature_names_out=lambda _, __: np.array(["mean"])
    )
    union = SequenceUnion([("frames", mfcc_like), ("utterance", table)], repeat_tables=True)
    union.fit(frames)
    out = union.transform(frames)
    np.testing.assert_array_equal(out[1][:, 2], np.zeros(4))
    np.testing.assert_array_equal(out[0][:, 2], np.ones(3))
    assert list(out.feature_names) == ["frames__x0", "frames__x1", "utterance__mean"]


def test_a_union_of_tables_alone_is_refused():
    table = FunctionTransformer(lambda X: np.ones((len(X), 2)))
    with pytest.raises(ValueError, match="Every transformer returned a table"):
        SequenceUnion([("a", table), ("b", table)], repeat_tables=True).fit_transform([np.ones((3, 2))])


def test_speaker_metadata_reaches_a_normalizer_inside_a_repeated_table():
    from sklearn.pipeline import Pipeline

    from sklearn_ser.features import SpeakerNormalizer

    rng = np.random.default_rng(0)
    sequences = [rng.normal(size=(4, 2)) for _ in range(6)]
    speaker = np.array(["a", "a", "a", "b", "b", "b"])
    means = Pipeline(
        [("mean", FunctionTransformer(lambda X: np.array([x.mean(0) for x in X]))), ("norm", SpeakerNormalizer())]
    )
    union = SequenceUnion([("frames", columns(0, 2)), ("utterance", means)], repeat_tables=True)
    with sklearn.config_context(enable_metadata_routing=True):
        out = union.fit_transform(sequences, speaker=speaker)
    rows = np.array([x[0, 2:] for x in out])
    for name in "ab":
        np.testing.assert_allclose(rows[speaker == name].mean(0), 0, atol=1e-6)
