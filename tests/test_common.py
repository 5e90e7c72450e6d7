"""scikit-learn's common estimator checks, on every public estimator.

The audio transformers take the checks' numeric 2-D data as it is: a row is a
waveform. The estimators that take feature sequences run behind an adapter
that reads a row as an utterance of one frame (its values the features of
that frame), so that the checks' data, NaN, dtypes, unfitted calls and
column-vector targets reach the estimator's own code; their sequence output
is turned back into rows.
"""

import atexit
import importlib.util
import shutil
import tempfile

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_ser.augmentation
import sklearn_ser.features
import sklearn_ser.model_selection
import sklearn_ser.models
from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter
from sklearn_ser.features import (
    MFCC,
    DeltaStack,
    DenseNetEmbedder,
    EGeMAPS,
    EGeMAPSFrames,
    FeatureSequences,
    MelSpectrogram,
    SegmentPooling,
    SequencePooling,
    SequenceScaler,
    SequenceUnion,
    SpeakerNormalizer,
    SpeechEmbedder,
    VectorAsSequence,
)
from sklearn_ser.model_selection import OptunaSearch
from sklearn_ser.models import CRNNClassifier, LSTMClassifier, MultiscaleLSTMClassifier, ScoreFusionClassifier


def rows_as_sequences(X):
    """2-D data (an array, a list of rows, a DataFrame) as one-frame sequences; anything else unchanged."""
    if hasattr(X, "columns"):
        return FeatureSequences([row[None, :] for row in X.to_numpy()], X.columns)
    if sparse.issparse(X):
        return X
    try:
        array = np.asarray(X)
    except ValueError:  # ragged: sequences already
        return X
    return [row[None, :] for row in array] if array.ndim == 2 else X


def rows_as_three_blocks(X):
    """2-D data as one-frame sequences of three copies of each row (static, delta and delta-delta blocks)."""
    sequences = rows_as_sequences(X)
    if sequences is X:
        return X
    return [np.tile(frame, 3) for frame in sequences]


def sequences_as_rows(output):
    """Sequence output as a 2-D array, each sequence flattened into one row."""
    if isinstance(output, list):
        return np.stack([np.ravel(sequence) for sequence in output])
    return output


class SequenceOutputAsRows:
    """A transformer whose sequence output is turned back into rows."""

    def transform(self, X, **params):
        return sequences_as_rows(super().transform(X, **params))

    def fit_transform(self, X, y=None, **params):
        return sequences_as_rows(super().fit_transform(X, y, **params))


class RowsAsSequencesTransformer(SequenceOutputAsRows):
    """A sequence transformer on rows read as one-frame sequences, its output back as rows."""

    as_sequences = staticmethod(rows_as_sequences)

    def fit(self, X, y=None, **params):
        return super().fit(self.as_sequences(X), y, **params)

    def transform(self, X, **params):
        return super().transform(self.as_sequences(X), **params)

    def fit_transform(self, X, y=None, **params):
        return super().fit_transform(self.as_sequences(X), y, **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        return tags


class RowsAsSequencesClassifier:
    """A sequence classifier on rows read as one-frame sequences."""

    def fit(self, X, y, **params):
        return super().fit(rows_as_sequences(X), y, **params)

    def predict(self, X):
        return super().predict(rows_as_sequences(X))

    def predict_proba(self, X):
        return super().predict_proba(rows_as_sequences(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = True
        return tags


class DeltaStackOnRows(RowsAsSequencesTransformer, DeltaStack):
    pass


class SequenceScalerOnRows(RowsAsSequencesTransformer, SequenceScaler):
    pass


class SequencePoolingOnRows(RowsAsSequencesTransformer, SequencePooling):
    pass


class SegmentPoolingOnRows(RowsAsSequencesTransformer, SegmentPooling):
    pass


class SequenceUnionOnRows(RowsAsSequencesTransformer, SequenceUnion):
    pass


class SpeakerNormalizerOnRows(RowsAsSequencesTransformer, SpeakerNormalizer):
    pass


class DenseNetEmbedderOnRows(RowsAsSequencesTransformer, DenseNetEmbedder):
    as_sequences = staticmethod(rows_as_three_blocks)


class VectorAsSequenceOnRows(SequenceOutputAsRows, VectorAsSequence):
    pass


class LSTMClassifierOnRows(RowsAsSequencesClassifier, LSTMClassifier):
    pass


class MultiscaleLSTMClassifierOnRows(RowsAsSequencesClassifier, MultiscaleLSTMClassifier):
    pass


class CRNNClassifierOnRows(RowsAsSequencesClassifier, CRNNClassifier):
    pass


class SpeechEmbedderOnTinyModel(SpeechEmbedder):
    """A SpeechEmbedder whose name in the test ids leaves out the temporary folder of its model (the same in every
    process that collects the tests)."""

    def __repr__(self, N_CHAR_MAX=700):
        return "SpeechEmbedder(model=<a tiny wav2vec 2.0>, device='cpu')"


class LogisticSpace:
    """The space of a LogisticRegression's ``C``; unlike a function's, its repr is the same in every run (test ids)."""

    def __call__(self, trial):
        return {"C": trial.suggest_float("C", 0.1, 10.0, log=True)}

    def __repr__(self):
        return "LogisticSpace()"


def tiny_speech_model():
    """A folder (removed at exit) holding a tiny random wav2vec 2.0 model and its feature extractor.

    A frame per 2 samples, so that the checks' short rows are waveforms of a few frames.
    """
    import torch
    import transformers

    folder = tempfile.mkdtemp(prefix="sklearn_ser_speech_")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    config = transformers.Wav2Vec2Config(
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=16,
        conv_dim=(8,),
        conv_kernel=(4,),
        conv_stride=(2,),
        num_conv_pos_embeddings=4,
        num_conv_pos_embedding_groups=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformers.Wav2Vec2Model(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False).save_pretrained(folder)
    return folder


SMALL = dict(n_fft=64, hop_length=16, n_mels=8)
TINY_LSTM = dict(hidden_size=4, lr=0.05, max_epochs=5, batch_size=64, device="cpu", random_state=0)

SEQUENCE_OUTPUT = "the output is a list of (n_frames, n_features) sequences, not a 2-D array with a shape and dtype"
AUDIO_INPUT = {
    "check_n_features_in": "waveforms of any length are valid input, so there is no n_features_in_",
    "check_n_features_in_after_fitting": "waveforms of any length are valid input, so there is no n_features_in_",
    "check_estimators_dtypes": "integer waveforms are refused: their scale (int16 full scale 32767) is ambiguous",
    "check_estimators_empty_data_messages": "an empty waveform is reported as 'X[0] has no samples', "
    "not with the tabular wording the check matches",
    "check_transformer_general": SEQUENCE_OUTPUT,
    "check_transformer_data_not_an_array": SEQUENCE_OUTPUT,
    "check_transformers_unfitted_stateless": SEQUENCE_OUTPUT,
}
TABULAR_AUDIO_INPUT = {
    check: AUDIO_INPUT[check]
    for check in (
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_estimators_dtypes",
        "check_estimators_empty_data_messages",
    )
}
SEQUENCE_INPUT = {
    "check_n_features_in_after_fitting": "the number of features is checked sequence by sequence, and the "
    "ValueError names the sequence ('X[0] has 1 features per frame, expected 4'), not in check_array's words",
    "check_fit2d_predict1d": "a 1-D array, most often a waveform, is refused with a ValueError that points to "
    "the feature transformers, not with check_array's 'Reshape your data'",
}
TRIPLED_ROWS = (
    "the adapter gives the network each row three times (as its static, delta and delta-delta blocks), so "
    "n_features_in_ is three times the check's columns"
)
DENSENET_INPUT = {
    **SEQUENCE_INPUT,
    "check_n_features_in": TRIPLED_ROWS,
    "check_n_features_in_after_fitting": TRIPLED_ROWS,
    "check_methods_subset_invariance": "float32 convolutions in torch take another algorithm for another batch "
    "size: an image's embedding changes by up to about 1e-6 with its batch, beyond the check's rtol=1e-4 for "
    "values near 0",
}

FITS_TRANSFORMER_LIST = (
    "fit replaces the transformers of transformer_list with their fitted selves, as scikit-learn's FeatureUnion does"
)
SEQUENCE_UNION = {
    **SEQUENCE_INPUT,
    "check_estimators_overwrite_params": FITS_TRANSFORMER_LIST,
    "check_dont_overwrite_parameters": FITS_TRANSFORMER_LIST,
}

ESTIMATORS = [
    (MelSpectrogram(**SMALL), AUDIO_INPUT),
    (MFCC(n_mfcc=4, **SMALL), AUDIO_INPUT),
    (DeltaStackOnRows(width=3), SEQUENCE_INPUT),
    (SequenceScalerOnRows(), SEQUENCE_INPUT),
    (SequencePoolingOnRows(stats=("mean", "max")), SEQUENCE_INPUT),
    (SegmentPoolingOnRows(segment_frames=2, segment_hop=1), SEQUENCE_INPUT),
    (SequenceUnionOnRows([("scaled", SequenceScaler()), ("delta", DeltaStack(width=3))]), SEQUENCE_UNION),
    (SpeakerNormalizer(), {}),
    (
        SpeakerNormalizerOnRows(),
        {"check_n_features_in_after_fitting": SEQUENCE_INPUT["check_n_features_in_after_fitting"]},
    ),
    (VectorAsSequenceOnRows(), {}),
    (
        DenseNetEmbedderOnRows(
            weights=None, segment_frames=29, segment_hop=29, image_size=29, device="cpu", random_state=0
        ),
        DENSENET_INPUT,
    ),
    (LSTMClassifierOnRows(**TINY_LSTM), SEQUENCE_INPUT),
    (MultiscaleLSTMClassifierOnRows(LSTMClassifier(**TINY_LSTM), segment_frames=(1, 2)), SEQUENCE_INPUT),
    (CRNNClassifierOnRows(conv_channels=(2,), **TINY_LSTM), SEQUENCE_INPUT),
    # error_score="raise", as scikit-learn's own checks configure GridSearchCV: errors reach the checks as they are
    (OptunaSearch(LogisticRegression(), LogisticSpace(), n_trials=2, cv=2, error_score="raise", random_state=0), {}),
    (ScoreFusionClassifier([("logistic", LogisticRegression()), ("bayes", GaussianNB())], cv=2), {}),
    # The checks' rows are waveforms; without speed perturbation every copy keeps its row's length.
    (WaveformAugmenter(sr=8000, speed_factors=None, random_state=0), TABULAR_AUDIO_INPUT),
    (
        AugmentedClassifier(LogisticRegression(), WaveformAugmenter(sr=8000, speed_factors=None, random_state=0)),
        {**TABULAR_AUDIO_INPUT, "check_classifier_data_not_an_array": AUDIO_INPUT["check_estimators_dtypes"]},
    ),
]
if importlib.util.find_spec("opensmile"):
    ESTIMATORS.append((EGeMAPS(sr=8000), TABULAR_AUDIO_INPUT))
    ESTIMATORS.append((EGeMAPSFrames(sr=8000), AUDIO_INPUT))
if importlib.util.find_spec("transformers"):
    # It loads its model in fit, so the checks expect it to refuse rows of another length afterwards.
    SPEECH_INPUT = {
        **TABULAR_AUDIO_INPUT,
        "check_transformer_general": "waveforms of any length are valid input, also after fit",
    }
    ESTIMATORS.append((SpeechEmbedderOnTinyModel(model=tiny_speech_model(), device="cpu"), SPEECH_INPUT))
_EXPECTED = {id(estimator): failures for estimator, failures in ESTIMATORS}


@parametrize_with_checks(
    [estimator for estimator, _ in ESTIMATORS],
    expected_failed_checks=lambda estimator: _EXPECTED[id(estimator)],
    xfail_strict=True,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_public_estimator_is_checked():
    public = {
        getattr(module, name)
        for module in (sklearn_ser.augmentation, sklearn_ser.features, sklearn_ser.models, sklearn_ser.model_selection)
        for name in module.__all__
    }
    estimators = {cls for cls in public if isinstance(cls, type) and issubclass(cls, BaseEstimator)}
    if not importlib.util.find_spec("opensmile"):
        estimators -= {EGeMAPS, EGeMAPSFrames}
    if not importlib.util.find_spec("transformers"):
        estimators.discard(SpeechEmbedder)
    checked = {cls for estimator, _ in ESTIMATORS for cls in type(estimator).__mro__}
    assert estimators <= checked, sorted(cls.__name__ for cls in estimators - checked)
