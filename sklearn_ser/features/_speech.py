"""Embeddings of speech by pretrained self-supervised encoders (wav2vec 2.0, HuBERT, WavLM, Whisper)."""

from __future__ import annotations

import itertools
import os
from contextlib import nullcontext
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._device import parse_device, resolve_device
from ._audio_transformer import AudioFeatureTransformer
from ._pooling import frame_statistics_row
from ._speech_model import (
    encoder_from_state,
    fingerprint,
    import_transformers,
    load_encoder,
    min_samples,
    portable_state,
)
from ._table_output import TableOutputMixin
from ._whisper import encoder_frames, log_mel_frames, whisper_hidden_states

POOLED_STATISTICS = {"mean": ("mean",), "mean+std": ("mean", "std")}


WHISPER_INPUTS = ("trimmed", "padded")


@dataclass(frozen=True, eq=False)
class _Embedding:
    """Waveforms at the model's rate -> float32 hidden states, per frame or pooled.

    Each utterance gives an ``(n_frames, n_features)`` array (``pooling``
    None) or a ``(1, n_features)`` one. An utterance longer than
    ``max_samples`` is cut into equal consecutive pieces no longer than it,
    each run alone, and their frames are joined. Pieces run in batches of up
    to ``batch_size``, sorted by length. Zero padding changes the outputs
    of a model that takes no attention mask, or normalises its
    convolutional features over time (a GroupNorm): with those, only pieces
    of equal length share a batch. Whisper's pieces are masked (trimmed) or
    all 30 s long (padded).
    """

    encoder: object
    feature_extractor: object
    layers: object  # a tuple of hidden-state indices, or "mean"
    pooling: str | None
    batch_size: int
    max_samples: int
    whisper_input: str
    precision: str
    device: str  # the embedder's parameter, resolved where an unpickled copy runs

    def __call__(self, y):
        return self.batch([y])[0]

    def batch(self, waveforms):
        """Features of each waveform, in order."""
        owners, pieces = [], []
        for owner, y in enumerate(waveforms):
            for piece in _pieces(y, self.max_samples):
                owners.append(owner)
                pieces.append(piece)
        shortest = min_samples(self.encoder.config)
        pieces = [y if len(y) >= shortest else np.pad(y, (0, shortest - len(y))) for y in pieces]
        frames = [None] * len(pieces)
        for group in self._groups([len(y) for y in pieces]):
            for i, features in zip(group, self._embed([pieces[i] for i in group])):
                frames[i] = features
        joined = [[] for _ in waveforms]
        for owner, features in zip(owners, frames):
            joined[owner].append(features)
        return [self._pool(np.concatenate(parts) if len(parts) > 1 else parts[0]) for parts in joined]

    @property
    def _is_whisper(self):
        return self.encoder.config.model_type == "whisper"

    @property
    def _trims_whisper(self):
        return self._is_whisper and self.whisper_input == "trimmed"

    @property
    def _takes_attention_mask(self):
        return not self._is_whisper and bool(self.feature_extractor.return_attention_mask)

    @property
    def _pads_safely(self):
        if self._is_whisper:
            return True
        return self._takes_attention_mask and self.encoder.config.feat_extract_norm == "layer"

    def _groups(self, lengths):
        """Indices of the pieces run together: sorted by length; of equal length if padding changes outputs."""
        order = sorted(range(len(lengths)), key=lengths.__getitem__)
        pads_safely = self._pads_safely
        for _, same in itertools.groupby(order, key=lambda i: 0 if pads_safely else lengths[i]):
            same = list(same)
            for start in range(0, len(same), self.batch_size):
                yield same[start : start + self.batch_size]

    def _embed(self, waveforms):
        import torch

        with torch.inference_mode():
            if self._trims_whisper:
                hidden_states, n_frames = self._trimmed_whisper_states(waveforms)
            else:
                hidden_states, n_frames = self._encoder_states(waveforms)
            if self.layers == "mean":
                selected = torch.stack(hidden_states).mean(dim=0)
            else:
                selected = torch.cat([hidden_states[k] for k in self.layers], dim=-1)
            frames = selected.float().cpu().numpy()
        return [x[:n].copy() for x, n in zip(frames, n_frames)]

    def _autocast(self):
        """Half-precision autocast of the encoder's products, or nothing for float32."""
        import torch

        if self.precision == "float32":
            return nullcontext()
        device_type = next(self.encoder.parameters()).device.type
        return torch.autocast(device_type=device_type, dtype=getattr(torch, self.precision))

    def _trimmed_whisper_states(self, waveforms):
        mels = [log_mel_frames(self.feature_extractor, y) for y in waveforms]
        n_frames = [encoder_frames(mel.shape[1]) for mel in mels]
        # Layers past the last hidden state used are not run.
        last = None if self.layers == "mean" else max(self.layers)
        with self._autocast():
            return whisper_hidden_states(self.encoder, mels, last=last), n_frames

    def _encoder_states(self, waveforms):
        """Hidden states through the model's own forward, and the frames of each piece."""
        extractor = self.feature_extractor
        # Whisper's extractor pads to its 30 s window by default; the others pad to the longest.
        padding = {} if self._is_whisper else {"padding": True}
        inputs = extractor(
            waveforms, sampling_rate=extractor.sampling_rate, return_attention_mask=True, return_tensors="pt", **padding
        )
        # Samples (wav2vec 2.0 family) or log-Mel frames (Whisper) of each piece.
        valid_inputs = inputs.pop("attention_mask")
        if self._takes_attention_mask:
            inputs["attention_mask"] = valid_inputs
        device = next(self.encoder.parameters()).device
        with self._autocast():
            hidden_states = self.encoder(
                **{name: value.to(device) for name, value in inputs.items()}, output_hidden_states=True
            ).hidden_states
        return hidden_states, self.encoder._get_feat_extract_output_lengths(valid_inputs.sum(dim=-1)).tolist()

    def _pool(self, frames):
        if self.pooling is None:
            return frames
        return frame_statistics_row(frames, POOLED_STATISTICS[self.pooling])[None, :].astype(np.float32)

    def __reduce__(self):
        # For worker processes and Dask: the weights travel as NumPy arrays and
        # the encoder is rebuilt on the device that ``device`` means there.
        fields = (
            self.feature_extractor,
            self.layers,
            self.pooling,
            self.batch_size,
            self.max_samples,
            self.whisper_input,
            self.precision,
            self.device,
        )
        return _unpickle_embedding, (portable_state(self.encoder), *fields)


def _pieces(y, max_samples):
    """``y`` cut into the fewest equal consecutive pieces of at most ``max_samples``."""
    n_pieces = -(-len(y) // max_samples)
    if n_pieces <= 1:
        return [y]
    bounds = np.linspace(0, len(y), n_pieces + 1).round().astype(int)
    return [y[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def _unpickle_embedding(encoder_state, *fields):
    encoder = encoder_from_state(encoder_state)
    device = fields[-1]
    return _Embedding(encoder.to(resolve_device(device, fallback=True)), *fields)


class SpeechEmbedder(TableOutputMixin, AudioFeatureTransformer):
    """Embed speech with a pretrained encoder: wav2vec 2.0, HuBERT, WavLM or Whisper.

    Each utterance is decoded (mono, resampled with soxr to the model's
    sampling rate, as for :class:`MelSpectrogram`), prepared by the model's
    own Hugging Face feature extractor (``AutoFeatureExtractor``) and run
    through the model's encoder (``AutoModel``: ``Wav2Vec2Model``,
    ``HubertModel``, ``WavLMModel``, or the encoder of ``WhisperModel``)
    with ``output_hidden_states=True``. The hidden states ``layer`` selects
    are returned per frame, or pooled over the utterance's frames.

    Parameters
    ----------
    model : str or path-like, default="openai/whisper-base"
        A Hugging Face Hub model id, or a local folder where the model and
        its feature extractor were written by ``save_pretrained``. The
        default is OpenAI Whisper base's encoder (6 layers, 512 dimensions,
        16 kHz; MIT licence), the model this package's recipes were chosen
        with (``docs/evaluation.md``); :func:`fetch_speech_model` gets it
        once. Other ids: e.g. ``"microsoft/wavlm-base-plus"``,
        ``"facebook/wav2vec2-base"``, ``"facebook/hubert-base-ls960"``.
    layer : int, list of int or "mean", default="mean"
        Which of the encoder's hidden states (``hidden_states`` of its
        output, ``n_layers_ + 1`` of them) make the features. An int ``k``:
        ``hidden_states[k]``, where 0 is the input to the first transformer
        layer and ``n_layers_`` the output of the last; negative values
        count from the end, as in Python. A list of ints: those hidden
        states concatenated along the features, in the order given.
        ``"mean"``: the mean of all the hidden states, the usual practice
        with a frozen encoder.
    pooling : {"mean", "mean+std"} or None, default="mean"
        ``"mean"``: one row per utterance, the mean over its frames.
        ``"mean+std"``: the mean, then the (population) standard deviation
        over its frames, as :class:`SequencePooling` computes them. None:
        the hidden states of every frame, as a sequence per utterance (for
        :class:`~sklearn_ser.models.LSTMClassifier`, or
        :class:`SequencePooling`).
    max_duration : float, default=30.0
        Longest stretch of audio, in seconds, that the encoder sees at once;
        a longer utterance is cut into pieces (see Notes). Self-attention
        takes memory quadratic in it. At most 30 s for Whisper, whose encoder
        takes 30 s windows.
    precision : {"float32", "float16", "bfloat16"}, default="float32"
        Precision of the encoder's matrix products: ``"float16"`` or
        ``"bfloat16"`` run them under :func:`torch.autocast` (faster on a
        GPU with tensor cores; the weights stay in float32), which changes
        the features by about 1e-2 relative. Part of the cache key.
    whisper_input : {"trimmed", "padded"}, default="trimmed"
        How a Whisper encoder sees an utterance (other models ignore it).
        ``"trimmed"``: the log-Mel frames that cover the audio, with the
        positional embeddings cut to their number, twenty times faster on
        2 s utterances. ``"padded"``: the audio padded with silence to
        Whisper's 30 s window, as the model was trained and as
        ``transformers`` runs it; better for its deeper layers. See Notes.
    batch_size : int, default=8
        Utterances per forward pass (see Notes).
    device : str, default="auto"
        Torch device of the encoder: ``"auto"`` picks ``"cuda"`` when
        :func:`torch.cuda.is_available` and ``"cpu"`` otherwise, or any
        device string such as ``"cpu"``, ``"cuda"`` or ``"cuda:1"``.
        Resolved in :meth:`fit`, and again when a pickled embedder is
        loaded.
    local_files_only : bool, default=True
        Load ``model`` from a local folder or the Hugging Face cache only,
        never from the network. False lets ``transformers`` download it
        into its cache.
    pickle_weights : bool, default=True
        Whether a pickled fitted embedder holds the encoder's weights (see
        Notes). False pickles only the parameters and fitted attributes; the
        encoder is loaded from ``model`` again on first use.
    n_jobs : int or None, default=None
        Workers computing chunks of 16 utterances in parallel; ``-1`` uses
        all cores. Each worker runs the encoder on one CPU thread: on the
        CPU, set it to use more cores.
    backend : {"threads", "processes", "dask"} or None, default=None
        Where the workers run (see :class:`MelSpectrogram`). Threads share
        the loaded encoder; processes and Dask workers receive a copy of its
        weights with every chunk, so threads are the backend of choice.
    memory : None, str, os.PathLike or joblib.Memory, default=None
        Feature cache location (see :class:`MelSpectrogram`). The cache is
        separate for every model (by content, see Notes), ``layer`` and
        ``pooling``.
    verbose : int, default=0
        Show a progress bar when positive.

    Attributes
    ----------
    model_ : torch.nn.Module
        The encoder, in evaluation mode on ``device_``. After loading a
        pickle made with ``pickle_weights=False``, defined from the first
        :meth:`transform` on.
    feature_extractor_ : transformers.FeatureExtractionMixin
        The model's feature extractor.
    device_ : torch.device
        Device of ``model_``.
    sampling_rate_ : int
        Sampling rate in Hz of the model, that files are resampled to and
        that waveform input is taken to be sampled at.
    n_layers_ : int
        Transformer layers of the encoder; there are ``n_layers_ + 1``
        hidden states.
    hidden_size_ : int
        Dimensions of a hidden state.
    model_type_ : str
        ``"wav2vec2"``, ``"hubert"``, ``"wavlm"`` or ``"whisper"``; it
        prefixes the feature names.
    model_fingerprint_ : str
        SHA-256 digest of the model's config, its feature extractor's
        settings and its weights: the model's identity in the feature cache.
    n_features_out_ : int
        Features per row (pooled) or frame (``pooling=None``) for the
        current ``layer`` and ``pooling``.

    See Also
    --------
    MelSpectrogram : Spectral features from the same inputs.
    SequencePooling : Other statistics of the per-frame embeddings.
    DenseNetEmbedder : Embeddings of Mel spectrogram images by an ImageNet CNN.

    Notes
    -----
    *Input normalisation.* The feature extractor prepares the waveform as
    the model was trained to see it: the wav2vec 2.0 family's
    zero-mean, unit-variance normalisation of each utterance when its
    ``do_normalize`` is set, Whisper's 80 (or 128) log-Mel bands of the
    input padded with silence to 30 s.

    *Frames.* The wav2vec 2.0 family gives a frame every 20 ms (320 samples
    at 16 kHz), from a convolutional encoder with a receptive field of
    25 ms: an utterance shorter than the receptive field is zero-padded at
    its end to it and gives one frame. Whisper gives a frame every 20 ms,
    ``ceil(n_samples / 320)`` of them at 16 kHz, in both input modes.

    *Whisper's input.* ``transformers`` runs Whisper's encoder on 3000
    log-Mel frames (30 s) only. With ``whisper_input="padded"`` the
    embedder does so, through the model's own forward, and keeps the 1500
    output frames that cover the utterance. With ``"trimmed"`` it computes
    the log-Mel frames the padded input has over the utterance (the
    extractor's, on the waveform padded with zeros just past its last
    frame) and runs the encoder's own modules on them with the positional
    embeddings cut to their number: the computation of
    ``WhisperEncoder.forward`` without its length check, tested equal to
    ``transformers``' forward on an encoder whose window is cut the same
    way. A batch is padded and masked (the convolutions see zeros past an
    utterance, the attention never sees padding), so an utterance's
    embedding is the same alone or beside others; the layers after the
    last hidden state that ``layer`` uses are not run. The model was
    trained on 30 s windows, so the two modes give other hidden states
    past the first. Measured with Whisper base across speakers on TESS and
    the synthetic corpus (``docs/evaluation.md``), hidden states 0 and 1
    score the same either way and 2-3 within a point and a half, while the
    deeper ones lose up to 11 points trimmed, and ``layer="mean"`` three;
    ``"trimmed"`` costs a twentieth with every layer run. The last
    hidden state of Whisper in ``transformers`` comes after the encoder's
    final layer norm, the others before it: ``layer="mean"`` averages
    normalised and unnormalised states.

    *Batches.* The utterances of a chunk of 16 run through the encoder in
    batches of up to ``batch_size``, sorted by length. A model whose
    feature extractor returns an attention mask (``return_attention_mask``)
    gets one, and the frames of each utterance are cut to its own length
    before pooling. Zero padding still changes the outputs of a model that
    takes no attention mask (such as wav2vec 2.0 Base and HuBERT Base) or
    whose convolutional encoder normalises over time
    (``feat_extract_norm="group"``): such a model runs only utterances of
    exactly equal length together. Either way, an utterance's embedding is
    the same (to float rounding) alone or beside others.

    *Long recordings.* An utterance longer than ``max_duration`` is cut
    into the fewest equal consecutive pieces no longer than it (a 70 s
    recording: three pieces of 23.3 s), each embedded alone; their frames
    are joined in order, and pooling runs over all of them. Memory grows
    with ``max_duration`` squared, not with the recording's length.

    *Pickling.* With ``pickle_weights=True`` a pickled fitted embedder
    holds the encoder's weights as NumPy arrays with its config and feature
    extractor, and loads on any machine with ``transformers`` installed,
    without the model folder or network access; the encoder is rebuilt on
    the device that ``device`` means there (a CPU-only machine with
    ``device="auto"``; an explicit CUDA device falls back to the CPU with a
    warning). With ``pickle_weights=False`` the pickle is small, and the
    loading machine needs ``model``: the encoder is loaded from it on first
    use, and must have the fitted ``model_fingerprint_`` (a ValueError says
    so otherwise).

    *Cache.* The feature cache (``memory``) is keyed by the model's
    fingerprint, not its name: the same model in two folders shares
    entries, two models with the same config and different weights never
    do. ``layer``, ``pooling``, ``max_duration``, ``precision`` (other
    than float32) and, for Whisper, ``whisper_input`` are part of the key;
    ``device``, ``batch_size`` and the loading and execution parameters
    change no feature beyond float rounding and are not.

    The default ``n_jobs=None`` runs the encoder on one CPU thread, as
    every extraction in this package; on a GPU, a worker or two suffice.
    ``layer`` and ``pooling`` are read when transforming; the model is
    loaded by :meth:`fit`. ``transformers`` is an optional dependency
    (``pip install sklearn-ser[speech]``), imported by :meth:`fit`, not when
    :mod:`sklearn_ser.features` is imported.

    References
    ----------
    .. [1] A. Baevski, H. Zhou, A. Mohamed and M. Auli, "wav2vec 2.0: A
       Framework for Self-Supervised Learning of Speech Representations",
       NeurIPS, 2020.
    .. [2] W.-N. Hsu, B. Bolte, Y.-H. H. Tsai, K. Lakhotia, R. Salakhutdinov
       and A. Mohamed, "HuBERT: Self-Supervised Speech Representation
       Learning by Masked Prediction of Hidden Units", IEEE/ACM TASLP, 29,
       3451-3460, 2021.
    .. [3] S. Chen, C. Wang, Z. Chen et al., "WavLM: Large-Scale
       Self-Supervised Pre-Training for Full Stack Speech Processing", IEEE
       JSTSP, 16(6), 1505-1518, 2022.
    .. [4] A. Radford, J. W. Kim, T. Xu, G. Brockman, C. McLeavey and
       I. Sutskever, "Robust Speech Recognition via Large-Scale Weak
       Supervision", ICML, 2023.

    Examples
    --------
    A tiny, randomly initialised model keeps the example offline; a
    pretrained one is used the same way.

    >>> import tempfile
    >>> import numpy as np
    >>> from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2Model
    >>> from sklearn_ser.features import SpeechEmbedder
    >>> folder = tempfile.mkdtemp()
    >>> config = Wav2Vec2Config(hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
    ...                         intermediate_size=32, conv_dim=(16, 16), conv_kernel=(10, 3),
    ...                         conv_stride=(5, 2), num_conv_pos_embeddings=16,
    ...                         num_conv_pos_embedding_groups=2)
    >>> Wav2Vec2Model(config).save_pretrained(folder)
    >>> _ = Wav2Vec2FeatureExtractor(do_normalize=True).save_pretrained(folder)
    >>> rng = np.random.default_rng(0)
    >>> waveforms = [rng.standard_normal(n).astype("float32") * 0.1 for n in (16000, 8000)]
    >>> embedder = SpeechEmbedder(model=folder, pooling="mean+std", device="cpu").fit(waveforms)
    >>> embedder.transform(waveforms).shape
    (2, 32)
    >>> embedder.get_feature_names_out()[[0, -1]]
    array(['wav2vec2_layermean_0_mean', 'wav2vec2_layermean_15_std'], dtype=object)
    >>> frames = embedder.set_params(layer=[1, 2], pooling=None).transform(waveforms)
    >>> [f.shape for f in frames]  # a frame per 10 samples here; per 320 (20 ms) in pretrained models
    [(1599, 32), (799, 32)]
    >>> pretrained = SpeechEmbedder(model="openai/whisper-base").fit(waveforms)  # doctest: +SKIP
    """

    _parameter_constraints = {
        **AudioFeatureTransformer._parameter_constraints,
        "model": [str, os.PathLike],
        "layer": [Integral, list, tuple, StrOptions({"mean"})],
        "pooling": [StrOptions(set(POOLED_STATISTICS)), None],
        "max_duration": [Interval(Real, 0, None, closed="neither")],
        "whisper_input": [StrOptions(set(WHISPER_INPUTS))],
        "precision": [StrOptions({"float32", "float16", "bfloat16"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "local_files_only": ["boolean"],
        "pickle_weights": ["boolean"],
    }
    # The model enters the cache key through its fingerprint, the other parameters not at all.
    _extraction_params = AudioFeatureTransformer._extraction_params | {
        "model",
        "whisper_input",
        "batch_size",
        "device",
        "local_files_only",
        "pickle_weights",
    }

    def __init__(
        self,
        *,
        model="openai/whisper-base",
        layer="mean",
        pooling="mean",
        max_duration=30.0,
        whisper_input="trimmed",
        precision="float32",
        batch_size=8,
        device="auto",
        local_files_only=True,
        pickle_weights=True,
        n_jobs=None,
        backend=None,
        memory=None,
        verbose=0,
    ):
        self.model = model
        self.layer = layer
        self.pooling = pooling
        self.max_duration = max_duration
        self.whisper_input = whisper_input
        self.precision = precision
        self.batch_size = batch_size
        self.device = device
        self.local_files_only = local_files_only
        self.pickle_weights = pickle_weights
        self.n_jobs = n_jobs
        self.backend = backend
        self.memory = memory
        self.verbose = verbose

    @property
    def sr(self):
        """Sampling rate in Hz that files are resampled to: the model's, ``sampling_rate_``."""
        check_is_fitted(self)
        return self.sampling_rate_

    @property
    def n_features_out_(self):
        """Features per row (pooled) or frame (``pooling=None``) for the current ``layer`` and ``pooling``."""
        check_is_fitted(self)
        return self._n_features_out()

    def fit(self, X, y=None):
        """Load the model and check the parameters against it.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio input; files are not read.
        y : None
            Ignored.

        Returns
        -------
        self : object

        Raises
        ------
        OSError
            If ``model`` cannot be found (offline: neither a folder nor in
            the Hugging Face cache), naming it and how to get it. An
            ``UnreadableWeightsError``, an ``OSError`` naming the model and
            the file, if a file of the model is there but cannot be read:
            weights truncated or damaged (``model.safetensors``,
            ``pytorch_model.bin``) or holding none of the encoder's, a
            ``config.json`` or ``preprocessor_config.json`` that is not
            JSON; or if ``model`` names one of its files, not its folder.
        ValueError
            If ``layer`` is out of the model's range, ``max_duration``
            exceeds Whisper's 30 s, or the model is not a supported encoder.
        """
        super().fit(X, y)
        device = resolve_device(self.device)
        encoder, feature_extractor = load_encoder(self.model, local_files_only=self.local_files_only)
        config = encoder.config
        _resolve_layers(self.layer, config.num_hidden_layers, self.model)
        _max_samples(self.max_duration, feature_extractor, config.model_type, self.model)
        self.device_ = device
        self.model_fingerprint_ = fingerprint(encoder, feature_extractor)
        self.model_ = encoder.to(self.device_)
        self.feature_extractor_ = feature_extractor
        self.sampling_rate_ = int(feature_extractor.sampling_rate)
        self.n_layers_ = int(config.num_hidden_layers)
        self.hidden_size_ = int(config.hidden_size)
        self.model_type_ = config.model_type
        return self

    def transform(self, X):
        """Embed every utterance in ``X``.

        Parameters
        ----------
        X : sequence of paths, sequence of 1-D float arrays, or 2-D float array
            Audio files, or waveforms sampled at ``sampling_rate_``.

        Returns
        -------
        X_embedded : ndarray or FeatureSequences
            With ``pooling`` set, a float32 array of shape
            ``(n_samples, n_features_out_)`` (a DataFrame under
            ``set_output(transform="pandas")``). With ``pooling=None``, a
            list with one float32 array of shape
            ``(n_frames, n_features_out_)`` per utterance.

        Raises
        ------
        ValueError
            If an utterance is longer than ``max_duration``, naming it.
        """
        check_is_fitted(self)
        features = super().transform(X)
        if self.pooling is None:
            return features
        return self._as_table(np.concatenate(features), X)

    def get_feature_names_out(self, input_features=None):
        """Names of the features, e.g. ``wavlm_layer6_0`` or ``wavlm_layermean_0_mean``.

        ``<model_type_>_layer<k>_<i>`` for dimension ``i`` of hidden state
        ``k`` (``layermean`` for ``layer="mean"``), in the order of ``layer``;
        pooled, each with ``_mean``, then each with ``_std``.

        Parameters
        ----------
        input_features : None
            Ignored: the features do not depend on the input's columns.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        layers = self._layers()
        blocks = ["mean"] if layers == "mean" else layers
        names = [f"{self.model_type_}_layer{k}_{i}" for k in blocks for i in range(self.hidden_size_)]
        if self.pooling is not None:
            names = [f"{name}_{stat}" for stat in POOLED_STATISTICS[self.pooling] for name in names]
        return np.asarray(names, dtype=object)

    def _check_params(self):
        if self.device != "auto":
            parse_device(self.device)
        if isinstance(self.layer, bool) or not isinstance(self.layer, (Integral, str)):
            if (
                isinstance(self.layer, bool)
                or not self.layer
                or not all(isinstance(k, Integral) and not isinstance(k, bool) for k in self.layer)
            ):
                raise ValueError(f"layer={self.layer!r} must be an int, a non-empty list of ints or 'mean'.")

    def _layers(self):
        return _resolve_layers(self.layer, self.n_layers_, self.model)

    def _make_computer(self):
        check_is_fitted(self)
        return _Embedding(
            encoder=self._encoder(),
            feature_extractor=self.feature_extractor_,
            layers=self._layers(),
            pooling=self.pooling,
            batch_size=self.batch_size,
            max_samples=_max_samples(self.max_duration, self.feature_extractor_, self.model_type_, self.model),
            whisper_input=self.whisper_input,
            precision=self.precision,
            device=self.device,
        )

    def _n_features_out(self):
        layers = self._layers()
        n_blocks = 1 if layers == "mean" else len(layers)
        n_stats = 1 if self.pooling is None else len(POOLED_STATISTICS[self.pooling])
        return self.hidden_size_ * n_blocks * n_stats

    def _encoder(self):
        """``model_``, loaded again from ``model`` if the pickle left it out."""
        if "model_" not in vars(self):
            encoder, feature_extractor = load_encoder(self.model, local_files_only=self.local_files_only)
            if fingerprint(encoder, feature_extractor) != self.model_fingerprint_:
                raise ValueError(
                    f"model={os.fspath(self.model)!r} is not the model this embedder was fitted with (its "
                    "config or weights differ): fit the embedder again, or pickle it with pickle_weights=True."
                )
            self.model_ = encoder.to(self.device_)
        return self.model_

    def _cache_params(self):
        params = {**super()._cache_params(), "layer": self._layers(), "model": self.model_fingerprint_}
        if self.model_type_ == "whisper":
            params["whisper_input"] = self.whisper_input
        if self.precision != "float32":
            params["precision"] = self.precision
        return params

    def _versions(self):
        import torch

        return (*super()._versions(), f"torch {torch.__version__}", f"transformers {import_transformers().__version__}")

    def __sklearn_is_fitted__(self):
        return hasattr(self, "model_fingerprint_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = True
        return tags

    def __getstate__(self):
        state = dict(super().__getstate__())
        model = state.pop("model_", None)
        if model is not None and self.pickle_weights:
            state["_model_state"] = portable_state(model)
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        model_state = state.pop("_model_state", None)
        super().__setstate__(state)
        if "device_" in state:
            self.device_ = resolve_device(self.device, fallback=True)
        if model_state is not None:
            self.model_ = encoder_from_state(model_state).to(self.device_)


def _max_samples(max_duration, feature_extractor, model_type, model):
    """The samples of ``max_duration`` seconds; at most Whisper's 30 s window."""
    if model_type == "whisper" and max_duration > feature_extractor.chunk_length:
        raise ValueError(
            f"max_duration={max_duration} exceeds the {feature_extractor.chunk_length} s windows of "
            f"Whisper's encoder (model={os.fspath(model)!r}); cut longer recordings first."
        )
    return int(max_duration * feature_extractor.sampling_rate)


def _resolve_layers(layer, n_layers, model):
    """``layer`` as ``"mean"`` or a tuple of hidden-state indices in ``[0, n_layers]``."""
    if isinstance(layer, str):
        return layer
    requested = [layer] if isinstance(layer, Integral) else list(layer)
    out_of_range = [k for k in requested if not -(n_layers + 1) <= k <= n_layers]
    if out_of_range:
        raise ValueError(
            f"layer={layer!r} is out of range: model={os.fspath(model)!r} has {n_layers} layers, so layer takes "
            f"hidden states 0 (the input to the first layer) to {n_layers} (the output of the last), or "
            f"-{n_layers + 1} to -1 from the end."
        )
    return tuple(int(k) % (n_layers + 1) for k in requested)
