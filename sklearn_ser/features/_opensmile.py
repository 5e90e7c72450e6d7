"""openSMILE, shared by the transformers that call it: extractors per thread, and input it reads safely."""

from __future__ import annotations

import threading

import numpy as np

from .._audio import check_audio_input, is_path
from ._audio_transformer import AudioFeatureTransformer

#: Functionals per feature set.
FEATURE_SETS = {"eGeMAPSv02": 88, "eGeMAPSv01b": 88, "GeMAPSv01b": 62, "ComParE_2016": 6373}
#: Low-level descriptors (per 10 ms frame) per feature set.
DESCRIPTOR_COUNTS = {"eGeMAPSv02": 25, "eGeMAPSv01b": 23, "GeMAPSv01b": 18, "ComParE_2016": 65}
MIN_DURATION_MS = 60  # the longest analysis window of these sets (F0); openSMILE gives NaN below it
_MAX_SAMPLE = 32767 / 32768  # the largest sample 16-bit audio represents

_local = threading.local()


def import_opensmile():
    """The ``opensmile`` module, or an ImportError saying how to install it."""
    try:
        import opensmile
    except ImportError as exc:
        raise ImportError(
            "The openSMILE features need the opensmile package, an optional dependency: "
            "pip install sklearn-ser[opensmile]"
        ) from exc
    return opensmile


def smile(feature_set, level="Functionals"):
    """This thread's openSMILE extractor of ``feature_set`` at ``level`` (an ``opensmile.FeatureLevel`` name).

    Each thread gets its own ``opensmile.Smile``, so that none is ever used
    by two threads at once; one takes 10 to 40 ms to build.
    """
    smiles = getattr(_local, "smiles", None)
    if smiles is None:
        smiles = _local.smiles = {}
    if (feature_set, level) not in smiles:
        opensmile = import_opensmile()
        smiles[feature_set, level] = opensmile.Smile(
            feature_set=opensmile.FeatureSet[feature_set],
            feature_level=opensmile.FeatureLevel[level],
        )
    return smiles[feature_set, level]


def readable_waveform(y, sr):
    """``y`` zero-padded to openSMILE's longest window and clipped to what 16-bit audio holds.

    openSMILE converts to 16-bit integers by scaling by 32768, which wraps
    samples at or beyond full scale around instead of clipping; below
    ``MIN_DURATION_MS`` it returns NaN.
    """
    min_samples = -(-sr * MIN_DURATION_MS // 1000)
    if len(y) < min_samples:
        y = np.pad(y, (0, min_samples - len(y)))
    return np.clip(y, -1.0, _MAX_SAMPLE)


def check_finite(features, X, feature_set):
    """Raise a ValueError naming the first utterance of ``X`` whose features are not all finite.

    ``features`` holds one array per utterance of ``X``.
    """
    not_finite = [i for i, array in enumerate(features) if not np.isfinite(array).all()]
    if not_finite:
        index = not_finite[0]
        source = check_audio_input(X)[index]
        name = f"X[{index}] ('{source}')" if is_path(source) else f"X[{index}]"
        raise ValueError(
            f"openSMILE returned NaN or infinite {feature_set} features for {name} "
            f"({len(not_finite)} utterance(s) in all)."
        )


class OpenSMILETransformer(AudioFeatureTransformer):
    """Base of the transformers that compute openSMILE features: the package, its version and its shortest input."""

    def _check_params(self):
        import_opensmile()

    def _cache_namespace(self):
        return f"{super()._cache_namespace()}-opensmile{import_opensmile().__version__}"

    def _analysis_seconds(self):
        return MIN_DURATION_MS / 1000
