import os
import signal
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from threadpoolctl import threadpool_limits

# The tests' arrays and networks are tiny: one thread is as fast, and it
# avoids OpenMP's busy-waiting, which slows torch badly when another process
# shares the cores. The processes the tests start inherit the same setting, so
# that they compute bit for bit as this one does.
torch.set_num_threads(1)
threadpool_limits(limits=1)
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"


@pytest.fixture(autouse=True, scope="session")
def _cache_in_a_temporary_folder(tmp_path_factory):
    """The commands cache features by default: under a folder of the test session, never the user's."""
    previous = os.environ.get("SKLEARN_SER_CACHE")
    os.environ["SKLEARN_SER_CACHE"] = str(tmp_path_factory.mktemp("sklearn-ser-cache"))
    yield
    if previous is None:
        del os.environ["SKLEARN_SER_CACHE"]
    else:
        os.environ["SKLEARN_SER_CACHE"] = previous


@pytest.fixture(scope="session")
def per_speaker_svm(tmp_path_factory):
    """A per-speaker svm-mfcc with probabilities, fitted with speaker ids on two speakers, saved with joblib.

    Returns the model file, the fitted pipeline, the third speaker's (F03)
    files and the training frame.
    """
    import joblib
    import sklearn

    from sklearn_ser.datasets import make_synthetic_corpus
    from sklearn_ser.recipes import get_recipe

    root = tmp_path_factory.mktemp("per_speaker_corpus")
    frame = make_synthetic_corpus(root, n_speakers=3, n_words=2, emotions=("angry", "sad", "happy"), random_state=0)
    train, new = frame[frame["speaker"] != "F03"], frame[frame["speaker"] == "F03"]
    pipe = get_recipe("svm-mfcc", speaker_normalization=True, probability=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(train["path"], train["label"], speaker=train["speaker"])
    model = root / "model.joblib"
    joblib.dump(pipe, model)
    return model, pipe, list(new["path"]), train


#: A tiny Whisper (2 encoder layers of 16 dimensions): the architecture of Whisper base at a test's size.
TINY_WHISPER = dict(
    d_model=16,
    encoder_layers=2,
    encoder_attention_heads=2,
    encoder_ffn_dim=32,
    decoder_layers=1,
    decoder_attention_heads=2,
    decoder_ffn_dim=32,
    num_mel_bins=80,
    vocab_size=8,
    max_target_positions=8,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
    decoder_start_token_id=1,
)


def tiny_whisper(seed=0):
    """A randomly initialised tiny Whisper model (see TINY_WHISPER) and its feature extractor."""
    import transformers

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = transformers.WhisperModel(transformers.WhisperConfig(**TINY_WHISPER))
    return model, transformers.WhisperFeatureExtractor(feature_size=TINY_WHISPER["num_mel_bins"])


@pytest.fixture(scope="session")
def tiny_whisper_folder(tmp_path_factory):
    """A checkpoint folder of :func:`tiny_whisper`, as ``save_pretrained`` writes it."""
    pytest.importorskip("transformers")
    folder = tmp_path_factory.mktemp("tiny_whisper")
    model, feature_extractor = tiny_whisper()
    model.save_pretrained(folder)
    feature_extractor.save_pretrained(folder)
    return str(folder)


def tone(sr, seconds=1.0, freq=440.0, amplitude=0.5):
    t = np.arange(int(sr * seconds)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def write_audio(tmp_path):
    """Write a waveform (1-D, or (n_samples, n_channels)) and return its path."""

    def write(name, y, sr=16000, **kwargs):
        path = tmp_path / name
        soundfile.write(path, y, sr, **kwargs)
        return path

    return write


TESS_ROOT = Path(os.environ.get("SKLEARN_SER_TESS", Path(__file__).resolve().parents[2] / "shared" / "data" / "tess"))
requires_tess = pytest.mark.skipif(not TESS_ROOT.is_dir(), reason=f"TESS corpus not found at {TESS_ROOT}")


@pytest.fixture
def speakers_seen_by_normalizer(monkeypatch):
    """Speaker ids (sorted, or None) that every ``SpeakerNormalizer.transform`` call receives."""
    from sklearn_ser.features import SpeakerNormalizer

    seen = []
    original = SpeakerNormalizer.transform

    def spy(self, X, speaker=None):
        seen.append(None if speaker is None else sorted(set(speaker)))
        return original(self, X, speaker=speaker)

    monkeypatch.setattr(SpeakerNormalizer, "transform", spy)
    return seen


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raising KeyboardInterrupt in this process, as in a terminal.

    A job started in the background by a non-interactive shell inherits
    SIGINT ignored, and Python then leaves it ignored: Ctrl-C tests would
    wait for a signal that never acts.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def sigint_as_in_a_terminal():
    """``preexec_fn`` of a subprocess that must react to SIGINT, whatever this process inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def count_computations(monkeypatch):
    """The sources computed (not read from the cache) since the test began."""
    from sklearn_ser import _extraction

    calls = []
    original = _extraction._compute_one

    def counting(source, compute, sr):
        calls.append(source)
        return original(source, compute, sr)

    monkeypatch.setattr(_extraction, "_compute_one", counting)
    return calls
