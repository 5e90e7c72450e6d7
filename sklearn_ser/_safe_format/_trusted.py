"""The classes a safe-format file may name: the only code its loading runs is theirs.

A file names classes by ``"module:QualName"``; a name that is not listed here
is refused before anything is imported. The toolkit's own public estimators
(the ``__all__`` of its estimator packages) are trusted, and the scikit-learn,
skorch, NumPy and transformers classes that their fitted state holds.
"""

from __future__ import annotations

import importlib
from functools import cache

#: Packages whose public classes (``__all__``) are trusted.
OWN_PACKAGES = (
    "sklearn_ser.features",
    "sklearn_ser.models",
    "sklearn_ser.augmentation",
    "sklearn_ser.model_selection",
)

#: Other trusted classes: scikit-learn steps and what fitted ones hold; the encoders of SpeechEmbedder.
OTHER_CLASSES = (
    "sklearn.pipeline:Pipeline",
    "sklearn.pipeline:FeatureUnion",
    "sklearn.compose:ColumnTransformer",
    "sklearn.preprocessing:FunctionTransformer",  # its func is stored only if it is itself expressible (not code)
    "sklearn.preprocessing:StandardScaler",
    "sklearn.preprocessing:MinMaxScaler",
    "sklearn.preprocessing:RobustScaler",
    "sklearn.preprocessing:LabelEncoder",
    "sklearn.preprocessing:LabelBinarizer",
    "sklearn.decomposition:PCA",
    "sklearn.svm:SVC",
    "sklearn.svm:LinearSVC",
    "sklearn.linear_model:LogisticRegression",
    "sklearn.neural_network:MLPClassifier",
    "sklearn.neural_network._stochastic_optimizers:AdamOptimizer",
    "sklearn.neural_network._stochastic_optimizers:SGDOptimizer",
    "sklearn.ensemble:VotingClassifier",
    "sklearn.calibration:CalibratedClassifierCV",
    "sklearn.calibration:_CalibratedClassifier",
    "sklearn.calibration:_SigmoidCalibration",
    "sklearn.isotonic:IsotonicRegression",
    "sklearn.dummy:DummyClassifier",
    "sklearn.model_selection:KFold",
    "sklearn.model_selection:StratifiedKFold",
    "sklearn.model_selection:GroupKFold",
    "sklearn.model_selection:StratifiedGroupKFold",
    "sklearn.model_selection:LeaveOneGroupOut",
    "sklearn.utils:Bunch",
    "sklearn.utils._metadata_requests:MetadataRequest",
    "sklearn.utils._metadata_requests:MethodMetadataRequest",
    "skorch.history:History",
    "transformers.models.whisper.modeling_whisper:WhisperEncoder",
    "transformers.models.whisper.configuration_whisper:WhisperConfig",
    "transformers.models.whisper.feature_extraction_whisper:WhisperFeatureExtractor",
    "transformers.models.wav2vec2.modeling_wav2vec2:Wav2Vec2Model",
    "transformers.models.wav2vec2.configuration_wav2vec2:Wav2Vec2Config",
    "transformers.models.wav2vec2.feature_extraction_wav2vec2:Wav2Vec2FeatureExtractor",
    "transformers.models.hubert.modeling_hubert:HubertModel",
    "transformers.models.hubert.configuration_hubert:HubertConfig",
    "transformers.models.wavlm.modeling_wavlm:WavLMModel",
    "transformers.models.wavlm.configuration_wavlm:WavLMConfig",
)


class UntrustedClassError(ValueError):
    """A safe-format file names a class outside :func:`trusted_names`."""


@cache
def trusted_names():
    """Every trusted ``"module:QualName"``."""
    names = set(OTHER_CLASSES)
    for package in OWN_PACKAGES:
        module = importlib.import_module(package)
        names.update(f"{package}:{name}" for name in module.__all__ if _is_buildable(getattr(module, name)))
    return frozenset(names)


def _is_buildable(value):
    """A class whose objects a model's state may hold: not an exception, a protocol or a torch module."""
    import torch

    return (
        isinstance(value, type)
        and not issubclass(value, (BaseException, torch.nn.Module))
        and not getattr(value, "_is_protocol", False)
    )


@cache
def resolve(name):
    """The trusted class named ``name``; its module is imported only if the name is trusted.

    Raises
    ------
    UntrustedClassError
        If ``name`` is not trusted.
    ImportError
        If a trusted class's package is not installed (e.g. transformers).
    """
    if not isinstance(name, str) or name not in trusted_names():
        raise UntrustedClassError(f"the class {name!r} is not among the trusted classes")
    module, qualname = name.split(":")
    return getattr(importlib.import_module(module), qualname)


def name_of(cls):
    """The trusted name of ``cls``, or None if it is not trusted."""
    for name in trusted_names():
        if name.rpartition(":")[2] == cls.__qualname__ and name.split(".")[0] == cls.__module__.split(".")[0]:
            try:
                if resolve(name) is cls:
                    return name
            except (ImportError, AttributeError):  # a package not installed, a class another version lacks
                continue
    return None
