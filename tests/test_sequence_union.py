import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.preprocessing import FunctionTransformer

from sklearn_ser.features import MFCC, EGeMAPSFrames, FeatureSequences, SequenceUnion

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


@pytest.mark.parametrize("special", ["drop", "passthrough"])
def test_drop_and_passthrough_are_refused(special):
    with pytest.raises(ValueError, match=f"'b' is '{special}'"):
        SequenceUnion([("a", columns(0, 1)), ("b", special)]).fit([np.ones((3, 2))])


def test_a_transformer_returning_a_table_is_named():
    table = FunctionTransformer(lambda X: np.ones((len(X), 2)))
    with pytest.raises(ValueError, match="'table' did not return"):
        SequenceUnion([("a", columns(0, 1)), ("table", table)]).fit_transform([np.ones((3, 2))])
