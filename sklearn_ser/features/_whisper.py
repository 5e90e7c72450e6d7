"""Whisper's encoder at the audio's own length, and loading it without the decoder.

Whisper was trained on 30 s windows: its feature extractor pads every input
to 3000 log-Mel frames, and ``transformers``' ``WhisperEncoder`` refuses any
other length. Most emotional utterances last 2-3 s, so nine tenths of the
work is spent on silence. :func:`whisper_hidden_states` runs the encoder's
own modules (``conv1``, ``conv2``, ``embed_positions``, ``layers``,
``layer_norm``) on the log-Mel frames that cover each utterance, with the
positional embeddings cut to that length: the computation of
``WhisperEncoder.forward`` without its length check. A batch of utterances
of different lengths is padded and masked so that each utterance's hidden
states are those it has alone.

The hidden states are those ``WhisperEncoder`` returns with
``output_hidden_states=True``: the input to the first layer, the output of
each layer, and (last) the output of the final layer after the encoder's
final layer norm, as ``transformers`` gives it.
"""

from __future__ import annotations

import inspect
import json
import math
import os

import numpy as np

# Prefixes of the encoder's weights in the checkpoints of WhisperForConditionalGeneration and WhisperModel.
_ENCODER_PREFIXES = ("model.encoder.", "encoder.")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


class UnreadableWeightsError(OSError):
    """A speech model's checkpoint cannot be used: a file of it is damaged, or is not what it should be.

    Raised by :class:`SpeechEmbedder` for weights that are truncated or
    damaged (``model.safetensors``, ``pytorch_model.bin``) or hold none of
    the encoder's tensors, for a ``config.json`` or
    ``preprocessor_config.json`` that is not JSON, and for ``model=`` naming
    a file of a checkpoint in place of its folder. The message names the
    model and the file. An ``OSError``, as ``transformers`` raises for a
    checkpoint it cannot find.
    """


def load_whisper_encoder(name, config, *, local_files_only):
    """The ``WhisperEncoder`` of checkpoint ``name``, with its weights only (no decoder).

    Reads the encoder's tensors from the checkpoint's safetensors file (or
    shards) or ``pytorch_model.bin``, without loading the decoder's.

    Raises
    ------
    OSError
        If the checkpoint has no weight file.
    UnreadableWeightsError
        If its weight file is damaged, or lacks a weight of the encoder,
        naming the model and the file.
    """
    import torch
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    with torch.device("meta"):  # no random initialisation of weights about to be replaced
        encoder = WhisperEncoder(config)
    path, files = _weight_files(name, local_files_only)
    try:
        weights = _encoder_tensors(files)
    except Exception as exc:  # safetensors' SafetensorError, pickle's UnpicklingError, a truncated zip
        raise UnreadableWeightsError(
            f"model={name!r}: the weights in '{path}' cannot be read ({type(exc).__name__}: {exc})."
        ) from exc
    expected = set(encoder.state_dict())
    missing = sorted(expected - set(weights))
    if missing:
        raise UnreadableWeightsError(
            f"model={name!r}: '{path}' holds no Whisper encoder weight {missing[0]!r} "
            f"({len(missing)} of {len(expected)} missing)."
        )
    encoder.load_state_dict({key: weights[key] for key in expected}, strict=True, assign=True)
    return encoder


def checkpoint_file(name, filename, *, local_files_only):
    """The local path of the file ``filename`` of checkpoint ``name`` (a folder or a Hub id), or None if it has none."""
    from transformers.utils import cached_file

    return cached_file(
        name,
        filename,
        local_files_only=local_files_only,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )


def first_weight_file(name, *, local_files_only):
    """The first weight file of ``name`` that exists (see ``_WEIGHT_FILES``), or None."""
    for filename in _WEIGHT_FILES:
        path = checkpoint_file(name, filename, local_files_only=local_files_only)
        if path is not None:
            return path
    return None


def _weight_files(name, local_files_only):
    """The first weight file of ``name`` that exists, and the files holding its tensors."""
    for filename in _WEIGHT_FILES:
        path = checkpoint_file(name, filename, local_files_only=local_files_only)
        if path is None:
            continue
        if not filename.endswith(".index.json"):
            return path, [path]
        try:
            with open(path, encoding="utf-8") as fh:
                shards = sorted({shard for key, shard in json.load(fh)["weight_map"].items() if _encoder_key(key)})
        except (ValueError, KeyError, AttributeError, TypeError) as exc:  # not JSON, or not a weight map
            raise UnreadableWeightsError(
                f"model={name!r}: the index of its weights '{path}' cannot be read ({type(exc).__name__}: {exc})."
            ) from exc
        folder = os.path.dirname(path)
        return path, [os.path.join(folder, shard) for shard in shards]
    raise OSError(f"model={name!r} has none of the weight files {', '.join(_WEIGHT_FILES)}.")


def _encoder_key(key):
    """The key of an encoder weight within the encoder, or None for any other weight."""
    for prefix in _ENCODER_PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :]
    return None


def _encoder_tensors(files):
    """The encoder's tensors in ``files``, keyed as in ``WhisperEncoder.state_dict``."""
    import torch

    tensors = {}
    for file in files:
        if file.endswith(".safetensors"):
            from safetensors import safe_open

            with safe_open(file, framework="pt") as fh:
                for key in fh.keys():
                    if (inner := _encoder_key(key)) is not None:
                        tensors[inner] = fh.get_tensor(key).float()
        else:
            state = torch.load(file, map_location="cpu", weights_only=True, mmap=True)
            tensors.update({inner: value.float() for key, value in state.items() if (inner := _encoder_key(key))})
    return tensors


def log_mel_frames(feature_extractor, waveform):
    """Whisper's log-Mel frames covering ``waveform``: ``(n_mels, ceil(n_samples / hop_length))``.

    The frames the feature extractor computes for the waveform padded to
    30 s, cut to those that hold some of the audio (those the padded path
    keeps): the waveform is padded with zeros past its end, as in the 30 s
    window, only far enough for its last frame.
    """
    hop = feature_extractor.hop_length
    n_frames = max(1, math.ceil(len(waveform) / hop))
    padded = np.zeros(n_frames * hop + feature_extractor.n_fft, dtype=np.float32)
    padded[: len(waveform)] = waveform
    features = feature_extractor(
        padded, sampling_rate=feature_extractor.sampling_rate, padding="longest", return_tensors="np"
    )["input_features"][0]
    return features[:, :n_frames]


def encoder_frames(n_mel_frames):
    """Frames of the encoder's output for ``n_mel_frames`` log-Mel frames (``conv2`` has stride 2)."""
    return (n_mel_frames - 1) // 2 + 1


def whisper_hidden_states(encoder, mels, *, last=None):
    """The hidden states of ``encoder`` for log-Mel frames of any length up to its window.

    Parameters
    ----------
    encoder : transformers WhisperEncoder
    mels : list of ndarray of shape (n_mels, n_frames_i)
        At most ``2 * max_source_positions`` (3000) frames each.
    last : int, optional
        The last hidden state wanted: the layers after it are not run. By
        default, all of them.

    Returns
    -------
    hidden_states : tuple of torch.Tensor of shape (n_utterances, max_i encoder_frames(n_frames_i), d_model)
        Hidden states 0 to ``last`` (``encoder.config.encoder_layers + 1``
        of them by default). Rows beyond an utterance's own
        ``encoder_frames(n_frames_i)`` frames are padding.
    """
    import torch
    from torch.nn import functional

    device = encoder.conv1.weight.device
    dtype = encoder.conv1.weight.dtype
    lengths = torch.tensor([m.shape[1] for m in mels], device=device)
    batch = torch.zeros(len(mels), mels[0].shape[0], int(lengths.max()), dtype=dtype, device=device)
    for i, mel in enumerate(mels):
        batch[i, :, : mel.shape[1]] = torch.as_tensor(mel, dtype=dtype)
    # conv1 and conv2 read one frame past each side; an utterance alone sees zeros there.
    valid_mel = torch.arange(batch.shape[-1], device=device)[None, :] < lengths[:, None]
    x = functional.gelu(encoder.conv1(batch)) * valid_mel[:, None, :]
    x = functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
    n_positions = x.shape[1]
    if n_positions > encoder.embed_positions.num_embeddings:
        raise ValueError(
            f"{lengths.max()} log-Mel frames exceed Whisper's window of {2 * encoder.embed_positions.num_embeddings}."
        )
    x = x + encoder.embed_positions.weight[:n_positions]
    valid = torch.arange(n_positions, device=device)[None, :] < encoder_frames(lengths)[:, None]
    mask = None
    if not bool(valid.all()):
        # Under autocast the attention scores are in the autocast type: the mask must be too.
        autocast = torch.is_autocast_enabled(device.type)
        mask_dtype = torch.get_autocast_dtype(device.type) if autocast else x.dtype
        mask = torch.zeros(len(mels), 1, 1, n_positions, dtype=mask_dtype, device=device)  # every query alike
        mask.masked_fill_(~valid[:, None, None, :], torch.finfo(mask_dtype).min)
    extra = {"layer_head_mask": None} if _takes_head_mask(encoder.layers[0]) else {}
    n_layers = len(encoder.layers)
    last = n_layers if last is None else last
    hidden_states = [x]
    for layer in encoder.layers[:last]:
        x = layer(x, mask, **extra)
        x = x[0] if isinstance(x, tuple) else x
        hidden_states.append(x)
    if last == n_layers:
        hidden_states[-1] = encoder.layer_norm(x)
    return tuple(hidden_states)


def _takes_head_mask(layer):
    """Whether the layer's forward wants ``layer_head_mask`` (``transformers`` < 5)."""
    return "layer_head_mask" in inspect.signature(layer.forward).parameters
