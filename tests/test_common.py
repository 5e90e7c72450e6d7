"""scikit-learn's common estimator checks, run through the waveform input."""

import importlib.util

from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_ser.features import MFCC, DeltaStack, EGeMAPS, MelSpectrogram, SequencePooling

SMALL = dict(n_fft=64, hop_length=16, n_mels=8)

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
PIPELINE = {
    "check_dont_overwrite_parameters": "a Pipeline fits its steps in place, as every scikit-learn Pipeline",
    "check_estimators_overwrite_params": "a Pipeline fits its steps in place, as every scikit-learn Pipeline",
    "check_n_features_in_after_fitting": "waveforms of any length are valid input, so there is no n_features_in_",
}
SEQUENCE_PIPELINE = {**AUDIO_INPUT, **PIPELINE, "check_transformer_preserve_dtypes": SEQUENCE_OUTPUT}
POOLING_PIPELINE = {
    **PIPELINE,
    "check_transformer_general": "waveforms of any length are valid input, so transforming "
    "shorter waveforms than were fitted is not an error",
    "check_n_features_in": AUDIO_INPUT["check_n_features_in"],
    "check_estimators_dtypes": AUDIO_INPUT["check_estimators_dtypes"],
    "check_estimators_empty_data_messages": AUDIO_INPUT["check_estimators_empty_data_messages"],
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

ESTIMATORS = [
    (MelSpectrogram(**SMALL), AUDIO_INPUT),
    (MFCC(n_mfcc=4, **SMALL), AUDIO_INPUT),
    (make_pipeline(MelSpectrogram(**SMALL), DeltaStack()), SEQUENCE_PIPELINE),
    (make_pipeline(MelSpectrogram(**SMALL), SequencePooling()), POOLING_PIPELINE),
]
if importlib.util.find_spec("opensmile"):
    ESTIMATORS.append((EGeMAPS(sr=8000), TABULAR_AUDIO_INPUT))
_EXPECTED = {id(estimator): failures for estimator, failures in ESTIMATORS}


@parametrize_with_checks(
    [estimator for estimator, _ in ESTIMATORS],
    expected_failed_checks=lambda estimator: _EXPECTED[id(estimator)],
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
