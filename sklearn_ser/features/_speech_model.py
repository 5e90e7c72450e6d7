"""The speech encoders of :class:`SpeechEmbedder`: loading, identity and portable weights.

A model is a Hugging Face ``transformers`` checkpoint, a Hub id or a folder
written by ``save_pretrained``, holding one of the encoders in
:data:`SUPPORTED_MODEL_TYPES` and its feature extractor. ``transformers``
and ``torch`` are imported by these functions only, so that importing
:mod:`sklearn_ser.features` imports neither.
"""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np

from ._whisper import UnreadableWeightsError, checkpoint_file, first_weight_file, load_whisper_encoder

SUPPORTED_MODEL_TYPES = ("wav2vec2", "hubert", "wavlm", "whisper")
# Config entries that say where a model came from, not what it computes.
_PROVENANCE_KEYS = frozenset({"_name_or_path", "_commit_hash", "transformers_version"})


def import_transformers():
    try:
        import transformers
    except ImportError as exc:
        raise ImportError(
            "SpeechEmbedder needs the transformers package, an optional dependency: pip install sklearn-ser[speech]"
        ) from exc
    return transformers


def load_encoder(model, *, local_files_only):
    """The encoder of ``model`` and its feature extractor.

    The encoder is what ``AutoModel`` loads, on the CPU, in float32 and in
    evaluation mode; of a Whisper model, its ``WhisperEncoder`` alone, read
    from the checkpoint without the decoder's weights.

    Raises
    ------
    OSError
        If the model or its feature extractor cannot be found, naming the
        model and how to get it.
    UnreadableWeightsError
        An ``OSError``: if a file of the model exists but cannot be read (its
        weights truncated or damaged, or holding none of the encoder's; its
        ``config.json`` or ``preprocessor_config.json`` not JSON), or if
        ``model`` is a file rather than the model's folder; naming the model
        and the file.
    ValueError
        If the model is not one of :data:`SUPPORTED_MODEL_TYPES`.
    """
    transformers = import_transformers()
    name = os.fspath(model)
    options = {"local_files_only": local_files_only}
    if os.path.isfile(name):
        raise UnreadableWeightsError(
            f"model={name!r} is a file: model= names the folder that save_pretrained wrote (e.g. "
            f"'{os.path.dirname(os.path.abspath(name))}', the folder of this file) or a Hugging Face Hub id."
        )
    try:
        config = transformers.AutoConfig.from_pretrained(name, **options)
    except (OSError, ValueError) as exc:  # ValueError: a folder without a config.json
        damaged = _damaged_json(name, "config.json", local_files_only)
        raise damaged or OSError(_unavailable(name, local_files_only, "no model", exc)) from exc
    if config.model_type not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"model={name!r} is a {config.model_type!r} model; SpeechEmbedder runs the encoders of "
            f"{', '.join(SUPPORTED_MODEL_TYPES)} models."
        )
    try:
        if config.model_type == "whisper":
            encoder = load_whisper_encoder(name, config, **options)
        else:
            encoder, loading = transformers.AutoModel.from_pretrained(
                name, config=config, output_loading_info=True, **options
            )
            _check_weights_loaded(name, encoder, loading, local_files_only)
    except (UnreadableWeightsError, ImportError, MemoryError):
        raise
    except Exception as exc:  # safetensors' SafetensorError, pickle's UnpicklingError, EOFError, a size mismatch
        weights = first_weight_file(name, local_files_only=local_files_only)
        if weights is not None:
            raise UnreadableWeightsError(
                f"model={name!r}: the weights in '{weights}' cannot be read ({type(exc).__name__}: "
                f"{_first_sentence(exc)}); the file is damaged or incomplete: save or download the model again."
            ) from exc
        if not isinstance(exc, OSError):
            raise
        raise OSError(_unavailable(name, local_files_only, "no weights", exc)) from exc
    try:
        feature_extractor = transformers.AutoFeatureExtractor.from_pretrained(name, **options)
    except OSError as exc:
        damaged = _damaged_json(name, "preprocessor_config.json", local_files_only)
        raise damaged or OSError(_unavailable(name, local_files_only, "no feature extractor", exc)) from exc
    return encoder.float().eval(), feature_extractor


def _check_weights_loaded(name, encoder, loading, local_files_only):
    """Refuse an encoder none of whose weights came from the checkpoint (``transformers`` only reports it)."""
    expected = set(encoder.state_dict())
    if expected and expected <= set(loading.get("missing_keys", ())):
        weights = first_weight_file(name, local_files_only=local_files_only)
        raise UnreadableWeightsError(
            f"model={name!r}: '{weights}' holds none of the {type(encoder).__name__}'s weights "
            f"({len(expected)} missing): it is not this model's checkpoint; save or download the model again."
        )


def _damaged_json(name, filename, local_files_only):
    """The error for the file ``filename`` of ``name`` if it exists but is not JSON; None otherwise."""
    path = checkpoint_file(name, filename, local_files_only=local_files_only)
    if path is None:
        return None
    try:
        with open(path, "rb") as fh:
            content = fh.read()
        json.loads(content)
    except OSError:
        return None  # unreadable by anyone: transformers' error says why
    except ValueError as exc:
        reason = "the file is empty" if not content.strip() else f"{type(exc).__name__}: {exc}"
        return UnreadableWeightsError(
            f"model={name!r}: '{path}' cannot be read, it is not JSON ({reason}); the file is damaged: "
            "save or download the model again."
        )
    return None


def _first_sentence(exc):
    """The first sentence of ``exc``'s message, on one line (torch's unpickling errors run on for paragraphs)."""
    text = " ".join(str(exc).split())
    if not text and isinstance(exc, EOFError):
        return "the file ends too soon"
    sentence = text.split(". ", 1)[0].rstrip(".")
    return sentence[:200] or "no details"


def _unavailable(name, local_files_only, missing, exc):
    """Why ``name`` could not be loaded, and how to get it."""
    if os.path.isdir(name):
        return (
            f"model={name!r} is a folder with {missing} saved by save_pretrained: it needs the model "
            "(config.json and its weights) and the feature extractor (preprocessor_config.json), e.g. "
            "AutoModel.from_pretrained(ID).save_pretrained(FOLDER) and "
            f"AutoFeatureExtractor.from_pretrained(ID).save_pretrained(FOLDER). ({exc})"
        )
    download = (
        f"Get it once, on a machine with network access: `sklearn-ser fetch-model {name}` (in Python, "
        f"sklearn_ser.features.fetch_speech_model({name!r})), or `hf download {name} --local-dir FOLDER` "
        "and model=FOLDER. Without pretrained weights, the recipe 'best-offline' needs none"
    )
    if local_files_only:
        return (
            f"model={name!r} is neither a local folder nor a model in the Hugging Face cache, and "
            f"nothing is downloaded (local_files_only=True). {download}."
        )
    return f"model={name!r} could not be loaded from a local folder, the cache or the Hub. {download}. ({exc})"


#: The files of a checkpoint that SpeechEmbedder reads; the safetensors weights when there are any.
_CHECKPOINT_FILES = ["config.json", "preprocessor_config.json", "*.safetensors", "model.safetensors.index.json"]
_LEGACY_WEIGHTS = ["pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*.bin"]


def fetch_speech_model(name, *, folder=None):
    """Download a pretrained speech encoder from the Hugging Face Hub: the one step that needs the network.

    Only what :class:`SpeechEmbedder` reads is downloaded: the config, the
    feature extractor's settings and the weights (safetensors when the
    checkpoint has them, else the PyTorch ones); no tokenizer, no weights of
    other frameworks. Nothing else in the package downloads a model.

    Parameters
    ----------
    name : str
        A Hub model id, e.g. ``"openai/whisper-base"``.
    folder : str or path-like, optional
        Where to put the files. By default, the Hugging Face cache, where
        ``SpeechEmbedder(model=name)`` then finds them offline.

    Returns
    -------
    path : str
        The folder holding the model; ``model=path`` works as well as
        ``model=name``.

    Raises
    ------
    OSError
        If the model cannot be downloaded (no network, an unknown id, a
        gated model), or what was downloaded is not an encoder that
        :class:`SpeechEmbedder` runs.

    Examples
    --------
    >>> from sklearn_ser.features import fetch_speech_model
    >>> fetch_speech_model("openai/whisper-base")  # doctest: +SKIP
    '/home/me/.cache/huggingface/hub/models--openai--whisper-base/snapshots/...'
    """
    import_transformers()
    from huggingface_hub import snapshot_download

    options = {"local_dir": None if folder is None else os.fspath(folder)}
    try:
        path = snapshot_download(name, allow_patterns=_CHECKPOINT_FILES, **options)
        if not any(file.endswith(".safetensors") for file in os.listdir(path)):
            path = snapshot_download(name, allow_patterns=_LEGACY_WEIGHTS, **options)
    except Exception as exc:  # huggingface_hub raises its own errors for the network, ids and access
        raise OSError(f"model={name!r} could not be downloaded from the Hugging Face Hub: {exc}") from exc
    try:
        load_encoder(path, local_files_only=True)
    except ValueError as exc:
        raise OSError(str(exc)) from exc
    return path


def encoder_depth(model, *, local_files_only=True):
    """Transformer layers of ``model``'s encoder, from its config alone (no weights are loaded).

    Raises
    ------
    OSError
        If the config cannot be found, naming the model and how to get it.
    """
    transformers = import_transformers()
    name = os.fspath(model)
    try:
        config = transformers.AutoConfig.from_pretrained(name, local_files_only=local_files_only)
    except (OSError, ValueError) as exc:
        raise OSError(_unavailable(name, local_files_only, "no model", exc)) from exc
    return int(config.num_hidden_layers)


def min_samples(config):
    """Fewest samples the encoder takes: the receptive field of its convolutional feature encoder.

    That gives one frame, or (with a GroupNorm after the first convolution)
    as many as the first convolution needs to give two. 1 for Whisper, whose
    log-Mel frames are computed with the input padded (to 30 s, or past its
    last frame when trimmed).
    """
    if config.model_type == "whisper":
        return 1
    n = 1
    for kernel, stride in reversed(list(zip(config.conv_kernel, config.conv_stride))):
        n = (n - 1) * stride + kernel
    if config.feat_extract_norm == "group":  # a GroupNorm over the first layer's frames needs two of them
        n = max(n, config.conv_kernel[0] + config.conv_stride[0])
    return n


def fingerprint(encoder, feature_extractor):
    """Hex SHA-256 of what the embeddings depend on: the configs and every weight.

    The model's config (without the entries naming where it was loaded
    from), the feature extractor's settings, and the name, dtype, shape and
    bytes of every tensor of the encoder's ``state_dict``. The same model
    saved in two folders has one fingerprint; two models differing in one
    weight have two.
    """
    config = {k: v for k, v in encoder.config.to_dict().items() if k not in _PROVENANCE_KEYS}
    digest = hashlib.sha256()
    digest.update(json.dumps(config, sort_keys=True, default=repr).encode())
    digest.update(json.dumps(feature_extractor.to_dict(), sort_keys=True, default=repr).encode())
    for name, tensor in encoder.state_dict().items():
        array = np.ascontiguousarray(tensor.detach().cpu().numpy())
        digest.update(f"{name}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def portable_state(encoder):
    """The encoder as a picklable dict: its class, its config and its weights as NumPy arrays."""
    weights = {name: tensor.detach().cpu().numpy() for name, tensor in encoder.state_dict().items()}
    return {"class": type(encoder), "config": encoder.config, "weights": weights}


def encoder_from_state(state):
    """The encoder of :func:`portable_state`, on the CPU and in evaluation mode."""
    import torch

    weights = {name: torch.from_numpy(np.array(array)) for name, array in state["weights"].items()}
    return state["class"].from_pretrained(None, config=state["config"], state_dict=weights).eval()
