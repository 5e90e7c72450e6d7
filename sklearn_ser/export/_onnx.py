"""``to_onnx``: one ONNX graph from padded waveforms to class probabilities.

How the graph is made, and why this way:

* The steps the toolkit computes itself (:class:`~sklearn_ser.features.MelSpectrogram`,
  :class:`~sklearn_ser.features.MFCC`, :class:`~sklearn_ser.features.SpeechEmbedder`
  with a Whisper, wav2vec 2.0, HuBERT or WavLM encoder, :class:`~sklearn_ser.features.DeltaStack`,
  :class:`~sklearn_ser.features.SequenceScaler`, :class:`~sklearn_ser.features.SequencePooling`,
  :class:`~sklearn_ser.features.SegmentPooling`, :class:`~sklearn_ser.features.VectorAsSequence`,
  :class:`~sklearn_ser.features.SpeakerNormalizer` in its without-speaker-ids
  form, a fitted :class:`~sklearn.preprocessing.StandardScaler` among them,
  and the networks of :class:`~sklearn_ser.models.LSTMClassifier`,
  :class:`~sklearn_ser.models.CRNNClassifier` and the scales of
  :class:`~sklearn_ser.models.MultiscaleLSTMClassifier`) become one torch
  module over the padded batch, exported by :func:`torch.onnx.export` with
  dynamic batch and time axes. Each step is rewritten over a right-padded
  batch with masks (``_spectral.py``, ``_sequence_steps.py``,
  ``_whisper.py``, ``_ssl.py``); the networks and encoders are the fitted
  modules themselves, which already mask their padding (no packed
  sequences), or whose layers are called with masks. A torch module is the simplest exact
  route: the spectral front end (a strided convolution with the windowed
  DFT), the delta filter's edges and the masked statistics are a few tensor
  operations each, where skl2onnx converters for the toolkit's transformers
  would have to write the same graph node by node.
* The scikit-learn estimators after the last such step (an SVM, a
  calibrated SVM, a logistic regression, ...) are converted by
  ``skl2onnx`` from the table of pooled features, in float64 as
  scikit-learn computes them, and joined to the torch graph with
  :func:`onnx.compose.merge_models`. skl2onnx is the reference converter
  for them; rewriting libsvm's probability estimates in torch would not be
  simpler.

The graph takes ``waveforms`` (float32 ``[batch, time]``, right-padded
with anything) and ``lengths`` (int64 ``[batch]``, the samples of each,
at least 1) and returns ``probabilities`` (float32 ``[batch, n_classes]``,
one column per label of ``metadata_props["labels"]``). Decoding,
conversion to mono and resampling to ``metadata_props["sampling_rate"]``
are the caller's part, as in any deployment of the model: read the audio,
average the channels, resample (e.g. with soxr, which the toolkit uses),
and pad.
"""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .._files import atomic_write
from ..timeline._trained_on import TRAINED_ON
from ._steps import OPENSMILE_STEPS, SPEAKER_MODES, UnsupportedStepError, build_step, refuse

#: The opset of the graph; skl2onnx converts the tail to the same one.
OPSET = 18


def flatten_steps(model):
    """``(path, step)`` of every step of ``model``, nested pipelines flattened (``outer__inner``), skipped ones out."""
    if not isinstance(model, Pipeline):
        return [(type(model).__name__, model)]
    steps = []
    for name, step in model.steps:
        if step is None or step == "passthrough":
            continue
        if isinstance(step, Pipeline):
            steps += [(f"{name}__{path}", inner) for path, inner in flatten_steps(step)]
        else:
            steps.append((name, step))
    return steps


def split_model(model, *, speaker_normalizer="refuse"):
    """The torch modules of the leading steps, what they output, and the scikit-learn tail.

    Returns
    -------
    modules : list of torch.nn.Module
    flow : {"table", "probabilities"}
    tail : list of (str, estimator)
        The steps after the last one computed in torch (empty when the
        torch part ends with a classifier).
    """
    options = {"speaker_normalizer": speaker_normalizer}
    steps = flatten_steps(model)
    modules, flow = [], "waveforms"
    for i, (path, step) in enumerate(steps):
        if flow == "probabilities":
            refuse(path, step, "it comes after the classifier")
        built = build_step(path, step, flow, options)
        if built is None and hasattr(step, "transformer_list"):
            _refuse_union(path, step, options)
        if built is None:
            if flow == "table":
                last_path, last = steps[-1]
                if not hasattr(last, "predict_proba"):
                    refuse(last_path, last, "it gives no class probabilities (fit the recipe with probability=True)")
                return modules, flow, steps[i:]
            where = "the first step" if flow == "waveforms" else "a step on feature sequences"
            refuse(
                path,
                step,
                f"it is {where} and has no ONNX form in sklearn-ser's export (the graph computes MelSpectrogram, "
                "MFCC, SpeechEmbedder (Whisper, wav2vec 2.0, HuBERT, WavLM), DeltaStack, SequenceScaler, "
                "SequencePooling, SegmentPooling, VectorAsSequence, StandardScaler, LSTMClassifier, CRNNClassifier "
                "and MultiscaleLSTMClassifier, then scikit-learn estimators on tables through skl2onnx)",
            )
        module, flow = built
        modules.append(module)
    if flow != "probabilities":
        raise UnsupportedStepError("Cannot export the model to ONNX: it ends without a classifier.")
    return modules, flow, []


def _refuse_union(path, union, options):
    """Refuse a FeatureUnion or SequenceUnion, naming an openSMILE step inside it if it holds one."""
    for inner_path, inner in _nested(path, union):
        if type(inner) in OPENSMILE_STEPS:
            build_step(inner_path, inner, "waveforms", options)  # raises, with the reason
    refuse(path, union, "unions of feature streams are not in the ONNX export yet")


def _nested(path, step):
    """``(path, step)`` of every step within ``step``, through pipelines and unions."""
    if isinstance(step, Pipeline):
        for inner_path, inner in flatten_steps(step):
            yield from _nested(f"{path}__{inner_path}", inner)
    elif hasattr(step, "transformer_list"):
        for name, part in step.transformer_list:
            yield from _nested(f"{path}__{name}", part)
    else:
        yield path, step


def sampling_rate(model):
    """The sampling rate of the model's first step, the rate its waveforms must have."""
    first = flatten_steps(model)[0][1]
    return int(first.sr)


def to_onnx(model, path=None, *, speaker_normalizer="refuse"):
    """Export a fitted pipeline as one ONNX graph from padded waveforms to class probabilities.

    Parameters
    ----------
    model : Pipeline
        A fitted model of the toolkit (e.g. from
        :func:`sklearn_ser.recipes.get_recipe`), from audio to labels, with
        ``predict_proba``.
    path : str or path-like, optional
        Where to write the ``.onnx`` file (atomically; an existing file that
        is not an ONNX model is never replaced). None writes nothing.
    speaker_normalizer : {"refuse", "without-speaker-ids"}, default="refuse"
        A :class:`~sklearn_ser.features.SpeakerNormalizer` standardizes each
        speaker with statistics of that speaker's recordings, which a graph
        over single utterances cannot know: it is refused by default.
        ``"without-speaker-ids"`` exports what ``predict`` does without
        speaker ids (sequences standardized per utterance, tables with the
        training statistics).

    Returns
    -------
    onnx_model : onnx.ModelProto
        Inputs ``waveforms`` (float32 ``[batch, time]``, right-padded) and
        ``lengths`` (int64 ``[batch]``, samples of each, at least 1); output
        ``probabilities`` (float32 ``[batch, n_classes]``). Its
        ``metadata_props`` hold ``labels`` (JSON list, the columns),
        ``sampling_rate``, ``recipe`` (JSON, null when unknown),
        ``sklearn_ser_version`` and ``inputs`` (a reminder of the above).

    Raises
    ------
    UnsupportedStepError
        A ``ValueError`` naming the step (its path in the pipeline, e.g.
        ``"features__egemaps"``) that has no exact ONNX form, and why:
        openSMILE's features, per-speaker normalization, statistics without
        a graph form, classifiers that skl2onnx cannot convert.

    Notes
    -----
    Tolerance: the graph computes the STFT as a float32 convolution where
    the toolkit uses SciPy's float32 FFT, so the features agree to float32
    rounding (the bound of :class:`~sklearn_ser.features.MelSpectrogram`'s
    Notes); deltas, statistics, scalers and the scikit-learn estimators are
    computed in float64 as SciPy and scikit-learn compute them. The tests
    require the probabilities within 1e-4 (absolute) of ``predict_proba``
    for every covered recipe, alone and in a padded batch; they measured at
    most 6e-7, and 6e-6 for ``ssl-best`` (2e-6 with tiny wav2vec 2.0,
    HuBERT and WavLM encoders). A pipeline that divides rounding
    noise by a tiny spread (``svm-mfcc`` with ``speaker_normalization=True``,
    whose per-utterance means are zero up to rounding before its
    StandardScaler) gives rounding-dependent probabilities in any
    implementation, this graph included.

    Covered recipes: ``svm-mfcc`` (``probability=True``), ``paper-proposed``,
    ``paper-traditional``, ``lstm-logmel``, ``lstm-mfcc``, ``crnn-logmel``,
    ``segment-lstm`` (``features="mfcc"``), ``multiscale-lstm``, and with
    ``speaker_normalizer="without-speaker-ids"`` the speaker-normalized
    variants and ``ssl-best`` (``best``), ``ssl-svm`` (``probability=True``)
    and ``ssl-lstm`` with a Whisper, wav2vec 2.0, HuBERT or WavLM encoder.
    A wav2vec 2.0, HuBERT or WavLM encoder is computed for each utterance as
    the embedder runs it alone (which its batches equal): its input
    normalised over its own samples, its GroupNorm over its own frames, its
    attention masked. An utterance longer than a speech encoder's
    ``max_duration`` is cut into the embedder's pieces inside the graph,
    for Whisper too (tested within 8e-6 with ``max_duration`` below the
    utterances' length).

    Examples
    --------
    >>> import numpy as np, onnxruntime
    >>> from sklearn_ser.recipes import get_recipe
    >>> from sklearn_ser.export import to_onnx
    >>> rng = np.random.default_rng(0)
    >>> X = [rng.standard_normal(8000 + 800 * i).astype("float32") * (0.05 + 0.1 * (i % 2)) for i in range(12)]
    >>> y = ["calm", "loud"] * 6
    >>> pipe = get_recipe("svm-mfcc", probability=True, random_state=0).fit(X, y)
    >>> graph = to_onnx(pipe)
    >>> session = onnxruntime.InferenceSession(graph.SerializeToString())
    >>> waveforms = np.zeros((2, 16000), "float32")
    >>> waveforms[0, :8000], waveforms[1] = X[0], X[10]
    >>> proba, = session.run(None, {"waveforms": waveforms, "lengths": np.array([8000, 16000])})
    >>> bool(np.abs(proba - pipe.predict_proba([X[0], X[10]])).max() < 1e-4)
    True
    >>> {p.key: p.value for p in graph.metadata_props}["labels"]
    '["calm", "loud"]'
    """
    if speaker_normalizer not in SPEAKER_MODES:
        raise ValueError(f"speaker_normalizer must be one of {SPEAKER_MODES}, got {speaker_normalizer!r}.")
    if not isinstance(model, BaseEstimator):
        raise TypeError(f"model must be a fitted scikit-learn estimator, got {type(model).__name__}.")
    check_is_fitted(model)
    modules, flow, tail = split_model(model, speaker_normalizer=speaker_normalizer)
    from ._graph import export_torch, merge_tail

    onnx_model = export_torch(modules, "probabilities" if flow == "probabilities" else "features", OPSET)
    if tail:
        onnx_model = merge_tail(onnx_model, tail, OPSET)
    _describe(onnx_model, model)
    if path is not None:
        data = io.BytesIO(onnx_model.SerializeToString())
        atomic_write(path, lambda fh: shutil.copyfileobj(data, fh), replaces="onnx")
    return onnx_model


def _describe(onnx_model, model):
    trained_on = getattr(model, TRAINED_ON, None) or {}
    labels = np.asarray(model.classes_).tolist()
    metadata = {
        "labels": json.dumps(labels),
        "sampling_rate": str(sampling_rate(model)),
        "recipe": json.dumps(trained_on.get("recipe")),
        "sklearn_ser_version": __version__,
        "inputs": (
            "waveforms: float32 [batch, time], mono at sampling_rate, right-padded; lengths: int64 [batch], "
            "samples of each (at least 1). Output probabilities: float32 [batch, n_classes], columns as labels."
        ),
    }
    del onnx_model.metadata_props[:]
    for key, value in metadata.items():
        entry = onnx_model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx_model.producer_name = "sklearn-ser"
    onnx_model.producer_version = __version__
