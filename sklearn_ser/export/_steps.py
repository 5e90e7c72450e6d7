"""Which steps of a fitted pipeline the ONNX graph computes in torch, and the refusal of those it cannot.

A step is known by its exact class (a subclass may compute something else).
Every builder gets the fitted step and what flows into it (``"waveforms"``,
``"sequences"`` or ``"table"``) and returns the torch module and what flows
out (``"probabilities"`` after a classifier); a step it cannot express
exactly raises :class:`UnsupportedStepError` with the reason.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from sklearn.preprocessing import StandardScaler

from ..features import (
    MFCC,
    DeltaStack,
    EGeMAPS,
    EGeMAPSFrames,
    MelSpectrogram,
    SegmentPooling,
    SequencePooling,
    SequenceScaler,
    SpeakerNormalizer,
    SpeechEmbedder,
    VectorAsSequence,
)
from ..features._torch_engine import dct_matrix
from ..models import CRNNClassifier, LSTMClassifier, MultiscaleLSTMClassifier
from ._sequence_steps import (
    AffineModule,
    ClassifierModule,
    DeltaModule,
    MultiscaleModule,
    PoolingModule,
    SegmentPoolingModule,
    UtteranceNormalizerModule,
    VectorAsSequenceModule,
)
from ._spectral import SpectralModule

#: How SpeakerNormalizer may be exported (``speaker_normalizer=`` of :func:`~sklearn_ser.export.to_onnx`).
SPEAKER_MODES = ("refuse", "without-speaker-ids")


class UnsupportedStepError(ValueError):
    """A step of the model has no exact ONNX form; the message names its path in the pipeline and why."""


def refuse(path, step, reason):
    """Raise :class:`UnsupportedStepError` naming the step's ``path`` in the pipeline, its class and ``reason``."""
    raise UnsupportedStepError(f"Cannot export step '{path}' ({type(step).__name__}) to ONNX: {reason}.")


def _spectral(path, step, flow, options):
    _expect(path, step, flow, "waveforms")
    if step.engine != "numpy":
        step = copy.copy(step)
        step.engine = "numpy"
    computer = step._make_computer()
    if isinstance(step, MFCC):
        module = SpectralModule(computer.log_mel, dct_matrix(step.n_mels, step.n_mfcc, float(step.lifter)))
    else:
        module = SpectralModule(computer)
    return module, "sequences"


def _delta(path, step, flow, options):
    _expect(path, step, flow, "sequences")
    return DeltaModule(step.order, step.width), "sequences"


def _sequence_scaler(path, step, flow, options):
    _expect(path, step, flow, "sequences")
    return AffineModule(step.mean_, step.scale_, out_dtype=torch.float32), "sequences"


def _standard_scaler(path, step, flow, options):
    _expect(path, step, flow, "table")
    mean = step.mean_ if step.with_mean else None
    scale = step.scale_ if step.with_std else None
    return AffineModule(mean, scale), "table"


def _pooling(path, step, flow, options):
    _expect(path, step, flow, "sequences")
    try:
        return PoolingModule(step.stats), "table"
    except ValueError as exc:
        refuse(path, step, str(exc))


def _segment_pooling(path, step, flow, options):
    _expect(path, step, flow, "sequences")
    try:
        return SegmentPoolingModule(step.segment_frames, step.segment_hop, step.stats), "sequences"
    except ValueError as exc:
        refuse(path, step, str(exc))


def _vector_as_sequence(path, step, flow, options):
    _expect(path, step, flow, "table")
    return VectorAsSequenceModule(step.step_size), "sequences"


def _network(path, step, flow, options):
    _expect(path, step, flow, "sequences")
    network = copy.deepcopy(step.net_.module_).to("cpu").eval()
    return ClassifierModule(network), "probabilities"


def _multiscale(path, step, flow, options):
    _expect(path, step, flow, "sequences")
    scales = []
    for length, estimator in zip(step.segment_frames, step.estimators_):
        if type(estimator) not in (LSTMClassifier, CRNNClassifier):
            refuse(
                path,
                step,
                f"its segment-level estimator is a {type(estimator).__name__}; the graph runs LSTMClassifier and "
                "CRNNClassifier segments",
            )
        module, _ = _network(path, estimator, flow, options)
        columns = np.zeros((len(estimator.classes_), len(step.classes_)))
        columns[np.arange(len(estimator.classes_)), np.searchsorted(step.classes_, estimator.classes_)] = 1.0
        hop = max(1, int(round(length * step.hop_fraction)))
        scales.append((int(length), hop, module, columns))
    return MultiscaleModule(scales), "probabilities"


def _speaker_normalizer(path, step, flow, options):
    mode = options["speaker_normalizer"]
    if mode == "refuse":
        refuse(
            path,
            step,
            "it standardizes each speaker with statistics of that speaker's other recordings, which one "
            "utterance does not carry; pass speaker_normalizer='without-speaker-ids' (CLI: --speaker-normalizer "
            "without-speaker-ids) to export what predict does without speaker ids (sequences normalized per "
            "utterance, tables with the training statistics)",
        )
    if flow == "sequences":
        return UtteranceNormalizerModule(), "sequences"
    _expect(path, step, flow, "table")
    return AffineModule(step.mean_, step.scale_), "table"


def _opensmile(path, step, flow, options):
    refuse(path, step, "its features are computed by openSMILE's C library, which has no ONNX form")


def _speech_encoder(path, step, flow, options):
    _expect(path, step, flow, "waveforms")
    if step.precision != "float32":
        refuse(
            path,
            step,
            f"precision={step.precision!r} runs the encoder's products under half-precision autocast, which the "
            "graph (in float32) does not reproduce; fit it with precision='float32' to export it",
        )
    from ._ssl import PiecewiseEmbedding, SelfSupervisedEncoderModule
    from ._whisper import WhisperEmbeddingModule

    computer = step._make_computer()
    if step.model_type_ == "whisper":
        encoder = WhisperEmbeddingModule(computer, pool=False)
    else:
        encoder = SelfSupervisedEncoderModule(computer)
    return PiecewiseEmbedding(encoder, computer), "sequences" if step.pooling is None else "table"


BUILDERS = {
    MelSpectrogram: _spectral,
    MFCC: _spectral,
    DeltaStack: _delta,
    SequenceScaler: _sequence_scaler,
    StandardScaler: _standard_scaler,
    SequencePooling: _pooling,
    SegmentPooling: _segment_pooling,
    VectorAsSequence: _vector_as_sequence,
    LSTMClassifier: _network,
    CRNNClassifier: _network,
    MultiscaleLSTMClassifier: _multiscale,
    SpeakerNormalizer: _speaker_normalizer,
    EGeMAPS: _opensmile,
    EGeMAPSFrames: _opensmile,
    SpeechEmbedder: _speech_encoder,
}


#: Steps computed by openSMILE: refused wherever they are, within unions too.
OPENSMILE_STEPS = (EGeMAPS, EGeMAPSFrames)


def _expect(path, step, flow, wanted):
    if flow != wanted:
        given = {"waveforms": "waveforms", "sequences": "feature sequences", "table": "a table"}[flow]
        refuse(path, step, f"it gets {given} in this pipeline, and its ONNX form takes {wanted}")


def build_step(path, step, flow, options):
    """The torch module of ``step`` (at ``path``) and what it outputs, or None for a step torch does not cover."""
    builder = BUILDERS.get(type(step))
    if builder is None:
        return None
    return builder(path, step, flow, options)
