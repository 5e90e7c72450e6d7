"""Property-based tests: random waveforms, random files and random sequences.

Whatever the input, the audio functions and transformers either raise one of
their documented errors or return what their docstrings promise: shapes,
float32 sequences, and finite numbers.
"""

import struct
import warnings

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sklearn_ser import InvalidAudioError, load_audio
from sklearn_ser._audio import MAX_AMPLITUDE, check_audio_input
from sklearn_ser.features import MFCC, DeltaStack, MelSpectrogram, SequencePooling
from sklearn_ser.features._pooling import STATISTICS

# database=None: a failure is reported with its example, not stored for replay in the working tree.
MODEST = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
SR = 16000

pytestmark = pytest.mark.filterwarnings(
    "ignore:Empty filters detected:UserWarning",
    "ignore:.*catastrophic cancellation:RuntimeWarning",
)


def _any_float(width):
    return st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True)


@st.composite
def raw_waveforms(draw, max_length=3000):
    """Any 1-D float32 or float64 array: NaN, infinities, huge and subnormal values included."""
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    length = draw(st.integers(1, max_length))
    return draw(arrays(dtype, length, elements=_any_float(32 if dtype == np.float32 else 64)))


@st.composite
def valid_waveforms(draw, max_length=3000, dtypes=(np.float32, np.float64)):
    """Finite waveforms within the amplitude limit, at any scale from 1e-40 to the limit."""
    dtype = draw(st.sampled_from(dtypes))
    length = draw(st.integers(1, max_length))
    kind = draw(st.sampled_from(["noise", "tone", "constant", "impulse", "arbitrary"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "noise":
        y = rng.uniform(-1, 1, length)
    elif kind == "tone":
        y = np.sin(2 * np.pi * draw(st.floats(20, SR / 2)) * np.arange(length) / SR)
    elif kind == "constant":
        y = np.ones(length)
    elif kind == "impulse":
        y = np.zeros(length)
        y[draw(st.integers(0, length - 1))] = 1.0
    else:
        bound = float(np.float32(MAX_AMPLITUDE))
        return draw(arrays(dtype, length, elements=st.floats(-bound, bound, width=32)))
    scale = 10.0 ** draw(st.floats(-40, np.log10(MAX_AMPLITUDE)))
    return np.clip(y * scale, -MAX_AMPLITUDE, MAX_AMPLITUDE).astype(dtype)


def _is_valid(y):
    with np.errstate(invalid="ignore", over="ignore"):
        return bool(np.isfinite(y).all() and np.abs(y.astype(np.float64)).max() <= MAX_AMPLITUDE)


@MODEST
@given(y=raw_waveforms())
def test_check_audio_input_accepts_exactly_the_valid_waveforms(y):
    if not _is_valid(y):
        with pytest.raises(InvalidAudioError, match=r"X\[1\] holds (NaN or infinite|samples of magnitude)"):
            check_audio_input([np.zeros(4, dtype=np.float32), y])
        return
    _, out = check_audio_input([np.zeros(4, dtype=np.float32), y])
    assert out.dtype == np.float32 and out.shape == y.shape and out.flags.c_contiguous
    np.testing.assert_array_equal(out, y.astype(np.float32))
    assert np.isfinite(out).all()


@MODEST
@given(y=raw_waveforms(), transformer=st.sampled_from([MelSpectrogram, MFCC]))
def test_transformers_give_finite_features_or_a_documented_error(y, transformer):
    estimator = transformer(n_fft=64, hop_length=16, n_mels=8, **({"n_mfcc": 5} if transformer is MFCC else {}))
    if not _is_valid(y):
        with pytest.raises(InvalidAudioError, match=r"X\[0\] holds"):
            estimator.fit_transform([y])
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow or invalid value on the way
        (features,) = estimator.fit_transform([y])
    assert features.dtype == np.float32 and np.isfinite(features).all()


def _frames(n_samples, n_fft, hop, center):
    # Clips shorter than a window are zero-padded to n_fft samples first.
    n_samples = max(n_samples, n_fft)
    return 1 + n_samples // hop if center else 1 + (n_samples - n_fft) // hop


spectral_params = st.fixed_dictionaries(
    {
        "n_fft": st.sampled_from([32, 64, 128, 256, 512]),
        "hop_fraction": st.floats(0.05, 1.0),
        "center": st.booleans(),
        "n_mels": st.integers(1, 24),
        "power": st.sampled_from([1.0, 2.0]),
    }
)


def _spectral(params, **extra):
    params = dict(params)
    params["hop_length"] = max(1, int(params.pop("hop_fraction") * params["n_fft"]))
    return dict(sr=SR, **params, **extra)


@MODEST
@given(y=valid_waveforms(), params=spectral_params, log=st.sampled_from(["db", "natural", None]))
def test_mel_spectrogram_shape_dtype_and_finiteness(y, params, log):
    kwargs = _spectral(params, log=log)
    (mel,) = MelSpectrogram(**kwargs).fit_transform([y])
    assert mel.shape == (_frames(len(y), kwargs["n_fft"], kwargs["hop_length"], kwargs["center"]), kwargs["n_mels"])
    assert mel.dtype == np.float32 and mel.flags.c_contiguous
    assert np.isfinite(mel).all()
    if log is None:
        assert (mel >= 0).all()


@MODEST
@given(y=valid_waveforms(), params=spectral_params, n_mfcc=st.integers(1, 24), lifter=st.sampled_from([0.0, 22.0]))
def test_mfcc_shape_dtype_and_finiteness(y, params, n_mfcc, lifter):
    kwargs = _spectral(params)
    assume(n_mfcc <= kwargs["n_mels"])
    (mfcc,) = MFCC(n_mfcc=n_mfcc, lifter=lifter, **kwargs).fit_transform([y])
    assert mfcc.shape == (_frames(len(y), kwargs["n_fft"], kwargs["hop_length"], kwargs["center"]), n_mfcc)
    assert mfcc.dtype == np.float32 and np.isfinite(mfcc).all()


@MODEST
@given(y=valid_waveforms(max_length=2000, dtypes=(np.float64,)))
def test_float64_input_equals_its_float32_cast(y):
    mel = MelSpectrogram(n_fft=128, hop_length=32, n_mels=16)
    np.testing.assert_array_equal(mel.fit_transform([y])[0], mel.fit_transform([y.astype(np.float32)])[0])


@MODEST
@given(y=valid_waveforms(), order=st.sampled_from([1, 2]), width=st.sampled_from([3, 5, 9]))
def test_waveform_to_pooled_vector_is_always_finite(y, order, width):
    stats = tuple(STATISTICS)
    mel = MelSpectrogram(n_fft=128, hop_length=32, n_mels=12).fit_transform([y])
    deltas = DeltaStack(order=order, width=width).fit_transform(mel)
    assert deltas[0].shape == (len(mel[0]), 12 * (order + 1)) and deltas[0].dtype == np.float32
    np.testing.assert_array_equal(deltas[0][:, :12], mel[0])
    assert np.isfinite(deltas[0]).all()
    pooled = SequencePooling(stats=stats).fit_transform(deltas)
    assert pooled.shape == (1, 12 * (order + 1) * len(stats)) and pooled.dtype == np.float64
    assert np.isfinite(pooled).all()


@st.composite
def sequence_batches(draw):
    n_features = draw(st.integers(1, 6))
    lengths = draw(st.lists(st.integers(1, 40), min_size=1, max_size=4))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    scale = 10.0 ** draw(st.integers(-6, 6))
    elements = st.floats(-1, 1, width=32)
    return [draw(arrays(dtype, (n, n_features), elements=elements)) * dtype(scale) for n in lengths]


@MODEST
@given(sequences=sequence_batches(), order=st.sampled_from([1, 2]), width=st.sampled_from([3, 5, 7, 9]))
def test_delta_stack_on_random_sequences(sequences, order, width):
    out = DeltaStack(order=order, width=width).fit_transform(sequences)
    n_features = sequences[0].shape[1]
    assert len(out) == len(sequences)
    for seq, stacked in zip(sequences, out):
        assert stacked.shape == (len(seq), n_features * (order + 1)) and stacked.dtype == np.float32
        assert np.isfinite(stacked).all()
        np.testing.assert_array_equal(stacked[:, :n_features], seq.astype(np.float32))
        if len(seq) == 1:
            assert not stacked[:, n_features:].any()


@MODEST
@given(sequences=sequence_batches(), stats=st.lists(st.sampled_from(sorted(STATISTICS)), min_size=1, unique=True))
def test_sequence_pooling_on_random_sequences(sequences, stats):
    pooled = SequencePooling(stats=tuple(stats)).fit_transform(sequences)
    n_features = sequences[0].shape[1]
    assert pooled.shape == (len(sequences), n_features * len(stats)) and pooled.dtype == np.float64
    assert np.isfinite(pooled).all()
    columns = {name: pooled[:, i * n_features : (i + 1) * n_features] for i, name in enumerate(stats)}
    low = np.array([seq.astype(np.float32).min(axis=0) for seq in sequences])
    high = np.array([seq.astype(np.float32).max(axis=0) for seq in sequences])
    for name in {"mean", "median", "q25", "q75", "min", "max"} & set(columns):
        tolerance = 1e-6 * np.maximum(np.abs(low), np.abs(high))
        assert (columns[name] >= low - tolerance).all() and (columns[name] <= high + tolerance).all(), name
    for name in {"std", "iqr", "range"} & set(columns):
        assert (columns[name] >= 0).all(), name


# Random files: raw bytes, WAV headers with random fields, and damaged valid files.


def _wav_header(format_tag, channels, sr, bits, data_size, declared_size):
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, sr, sr * block_align, block_align, bits)
    return (
        b"RIFF"
        + struct.pack("<I", 4 + 8 + len(fmt) + 8 + data_size)
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"data"
        + struct.pack("<I", declared_size)
    )


@st.composite
def wav_with_random_fields(draw):
    data = draw(st.binary(min_size=0, max_size=512))
    header = _wav_header(
        format_tag=draw(st.sampled_from([1, 3, 6, 7, 0xFFFE, draw(st.integers(0, 0xFFFF))])),
        channels=draw(st.integers(0, 8)),
        sr=draw(st.one_of(st.sampled_from([8000, 16000, 44100, 96000]), st.integers(1000, 400000))),
        bits=draw(st.sampled_from([0, 8, 16, 24, 32, 64, 12])),
        data_size=len(data),
        declared_size=draw(st.one_of(st.just(len(data)), st.integers(0, 2**32 - 1))),
    )
    return header + data


def _valid_file_bytes(subtype, container):
    import io

    buffer = io.BytesIO()
    y = (0.5 * np.sin(np.arange(400) / 3)).astype(np.float32)
    soundfile.write(buffer, y, SR, format=container, subtype=subtype)
    return buffer.getvalue()


VALID_FILES = [
    _valid_file_bytes(subtype, container)
    for subtype, container in [("PCM_16", "WAV"), ("FLOAT", "WAV"), ("PCM_24", "WAV"), ("PCM_16", "FLAC")]
]


@st.composite
def damaged_files(draw):
    data = bytearray(draw(st.sampled_from(VALID_FILES)))
    damage = draw(st.sampled_from(["truncate", "overwrite", "both"]))
    if damage in ("overwrite", "both"):
        for _ in range(draw(st.integers(1, 4))):
            start = draw(st.integers(0, 60))
            patch = draw(st.binary(min_size=1, max_size=4))
            data[start : start + len(patch)] = patch
    if damage in ("truncate", "both"):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("random_files") / "random.wav"


def _load_or_documented_error(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)  # an overflow or invalid value would be a bug
            y = load_audio(path, sr=SR)
    except InvalidAudioError as exc:
        assert str(path) in str(exc)
        return None
    assert y.ndim == 1 and len(y) > 0 and y.dtype == np.float32 and y.flags.c_contiguous
    assert np.isfinite(y).all()
    return y


@MODEST
@given(data=st.one_of(st.binary(max_size=300), wav_with_random_fields(), damaged_files()))
def test_random_bytes_as_a_wav_file(scratch, data):
    scratch.write_bytes(data)
    y = _load_or_documented_error(scratch)
    if y is None:
        with pytest.raises(InvalidAudioError, match="random.wav"):
            MelSpectrogram().fit_transform([scratch])
        return
    (mel,) = MelSpectrogram(n_mels=16).fit_transform([scratch])
    assert mel.shape == (_frames(len(y), 512, 160, True), 16) and np.isfinite(mel).all()
