"""The package's layers: what each part imports, and the extension hooks it declares."""

import subprocess
import sys

import numpy as np
import pytest

from sklearn_ser.features._audio_transformer import AudioFeatureTransformer

AUDIO_LAYER = ("sklearn_ser._audio", "sklearn_ser._cache", "sklearn_ser._extraction", "sklearn_ser.features")


def _loaded_after(statement):
    probe = f"import sys\n{statement}\nprint(' '.join(sorted(m for m in sys.modules if m.startswith('sklearn_ser'))))"
    return set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import sklearn_ser.models",
        "from sklearn_ser import __version__",
        "from sklearn_ser._sequences import check_sequences",
    ],
)
def test_the_sequence_models_load_without_the_audio_layer(statement):
    loaded = _loaded_after(statement)
    assert not loaded & set(AUDIO_LAYER), sorted(loaded & set(AUDIO_LAYER))


def test_the_package_still_exposes_the_audio_names():
    loaded = _loaded_after("from sklearn_ser import InvalidAudioError, load_audio")
    assert "sklearn_ser._audio" in loaded


class Loudness(AudioFeatureTransformer):
    _feature_prefix = "loudness"
    _parameter_constraints = {**AudioFeatureTransformer._parameter_constraints, "sr": [int]}

    def __init__(self, sr=8000, n_jobs=None, backend=None, memory=None, verbose=0):
        self.sr, self.n_jobs, self.backend, self.memory, self.verbose = sr, n_jobs, backend, memory, verbose

    def _make_computer(self):
        return _frame_rms

    def _n_features_out(self):
        return 1


def _frame_rms(y):
    frames = y[: len(y) // 80 * 80].reshape(-1, 80)
    return np.sqrt(np.mean(frames**2, axis=1, keepdims=True)).astype(np.float32)


def test_an_audio_transformer_implements_the_declared_hooks():
    y = np.sin(np.linspace(0, 100, 800)).astype(np.float32)
    (features,) = Loudness().fit_transform([y])
    assert features.shape == (10, 1)
    assert list(Loudness().get_feature_names_out()) == ["loudness_0"]


@pytest.mark.parametrize("missing", ["_make_computer", "_n_features_out"])
def test_a_transformer_without_a_hook_cannot_be_made(missing):
    body = {name: getattr(Loudness, name) for name in ("__init__", "_make_computer", "_n_features_out")}
    del body[missing]
    Incomplete = type("Incomplete", (AudioFeatureTransformer,), body)
    with pytest.raises(TypeError, match=missing):
        Incomplete()
