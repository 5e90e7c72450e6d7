"""Named pipelines from audio file paths to emotion labels.

Every recipe is a function returning an unfitted :class:`~sklearn.pipeline.Pipeline`
that takes a list of audio paths (or waveforms) and predicts the labels it was
fitted on. :func:`list_recipes` names them and :func:`get_recipe` builds one
with overrides.

The recipes of "Mel-Spectrograms Based LSTM Model for Speech Emotion
Recognition" (2025):

``"paper-proposed"``
    The paper's proposed LSTM: 40 MFCC averaged over the utterance, read as a
    40-step sequence of one value, into a 256-unit LSTM, dense layers of 128
    and 64 units and a 7-way output, with dropout 0.2 between them. With one
    bias per LSTM gate (as Keras counts them) it has exactly the paper's
    305,799 trainable parameters for 7 classes. The MFCC means are
    standardized before the LSTM, which the paper does not state.
``"paper-traditional"``
    The paper's 77,160-parameter "traditional" LSTM cannot be recovered from
    its text: no usual single-LSTM-plus-dense configuration over its inputs
    gives that count. This recipe is a documented small baseline on the same
    input: a 128-unit LSTM and the output layer (67,463 trainable parameters
    for 7 classes, Keras-style).
``"lstm-logmel"``
    An LSTM over frame sequences: 64-band log-Mel with deltas and
    delta-deltas, standardized, into a bidirectional 128-unit LSTM with
    attention pooling and a 64-unit dense layer.
``"lstm-egemaps"``
    The same LSTM over openSMILE's 25 eGeMAPS low-level descriptors (pitch,
    jitter, shimmer, loudness, formants, spectral balance) every 10 ms,
    standardized (per speaker with ``speaker_normalization=True``).
``"lstm-mfcc"``
    The same LSTM over 40 MFCC with deltas and delta-deltas, standardized (per
    speaker with ``speaker_normalization=True``).
``"segment-lstm"``
    A small LSTM over segment statistics: the mean and standard deviation of
    MFCC (or eGeMAPS descriptors, or both) over every half second, every
    quarter second, optionally beside the utterance's eGeMAPS functionals.
``"crnn-logmel"``
    The input of ``"lstm-logmel"`` through a small 2-D CNN over (time, Mel),
    its static, delta and delta-delta blocks as three channels, feeding the
    same LSTM, trained end to end.
``"multiscale-lstm"``
    The paper's multiscale idea: LSTMs over log-Mel segments of 32, 64 and
    128 frames (0.32, 0.64 and 1.28 s), their class probabilities averaged
    over segments and fused over scales.
``"densenet-lstm"``
    The paper's segment-level CNN + LSTM with a pretrained DenseNet as the
    CNN: an LSTM over the DenseNet embeddings of successive 64-frame
    segments of the 3-channel log-Mel image.
``"densenet-mfcc-fusion"``
    The fusion of the paper's abstract: MFCC statistics joined with DenseNet
    embeddings of 3-channel (static, delta, delta-delta) log-Mel images, into
    a dense (multi-layer perceptron) classifier. ``weights="imagenet"``
    downloads torchvision's ImageNet weights on first use.

The classical baseline:

``"svm-mfcc"``
    MFCC with deltas and delta-deltas, mean and standard deviation over time,
    standardized, into an RBF SVM; ``speaker_normalization=True`` standardizes
    the MFCC per speaker first.
``"svm-egemaps"``
    openSMILE's 88 eGeMAPS functionals, standardized (or per speaker), into
    an RBF SVM; needs the ``opensmile`` package.

Pretrained speech encoders (Hugging Face ``transformers``; by default OpenAI
Whisper base, ``"openai/whisper-base"``, which ``sklearn-ser fetch-model``
gets once; nothing is downloaded unless ``local_files_only=False``):

``"ssl-best"``
    The best speaker-independent pipeline found on TESS and the synthetic
    corpus (see :func:`ssl_best`): the mean and standard deviation over time
    of Whisper base's first hidden layer, normalized per speaker, into a
    logistic regression.
``"ssl-svm"``
    An encoder's embeddings averaged over time (the mean of its layers),
    normalized per speaker, into an RBF SVM.
``"ssl-lstm"``
    One layer of an encoder, frame by frame, normalized per speaker, into the
    LSTM of ``"lstm-logmel"``.

``"best"``
    The best speaker-independent pipeline found on TESS and the synthetic
    corpus, with cost in the rule (see :func:`best` and
    ``docs/evaluation.md``): ``"ssl-best"``. Needs the pretrained weights.
``"best-offline"``
    The best pipeline that needs no pretrained weights: ``"lstm-best"``.
``"lstm-best"``
    The best speaker-independent sequence model found the same way (see
    :func:`lstm_best`).
``"svm-best"``
    The best speaker-independent SVM pipeline found the same way (see
    :func:`svm_best`).
``"fusion"``
    Score-level fusion of ``"lstm-best"`` and ``"svm-best"``, with the weights
    chosen by cross-validation on the training data (see :func:`fusion`).
"""

from __future__ import annotations

import difflib
import inspect
import re

from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from .features import (
    MFCC,
    DeltaStack,
    DenseNetEmbedder,
    EGeMAPS,
    EGeMAPSFrames,
    MelSpectrogram,
    SegmentPooling,
    SequencePooling,
    SequenceScaler,
    SequenceUnion,
    SpeakerNormalizer,
    SpeechEmbedder,
    VectorAsSequence,
)
from .models import CRNNClassifier, LSTMClassifier, MultiscaleLSTMClassifier, ScoreFusionClassifier

__all__ = ["describe_recipe", "get_recipe", "list_recipes", "recipe_options"]


def _mean_mfcc_as_sequence(*, n_jobs, memory, verbose):
    return [
        ("mfcc", MFCC(n_mfcc=40, n_jobs=n_jobs, memory=memory, verbose=verbose)),
        ("pool", SequencePooling(stats=("mean",))),
        ("scale", StandardScaler()),
        ("as_sequence", VectorAsSequence()),
    ]


def _mfcc_statistics(*, n_jobs, memory, verbose, speaker_normalization=False):
    """MFCC (standardized per speaker if asked) with deltas and delta-deltas, mean and std over time."""
    steps = [("mfcc", MFCC(n_mfcc=40, n_jobs=n_jobs, memory=memory, verbose=verbose))]
    if speaker_normalization:
        steps.append(("speaker_norm", SpeakerNormalizer()))
    return [*steps, ("delta", DeltaStack(order=2)), ("pool", SequencePooling(stats=("mean", "std")))]


def _attention_bilstm(**training):
    """The LSTM of lstm-logmel and densenet-lstm: bidirectional, 128 units, attention, a 64-unit layer."""
    return LSTMClassifier(hidden_size=128, bidirectional=True, pooling="attention", head=(64,), dropout=0.3, **training)


def _training(lr, batch_size, max_epochs, device, random_state, verbose):
    """The training options every LSTM recipe passes to its LSTMClassifier."""
    return dict(
        lr=lr,
        batch_size=batch_size,
        max_epochs=max_epochs,
        device=device,
        random_state=random_state,
        verbose=verbose,
    )


def paper_proposed(
    *, max_epochs=100, batch_size=32, lr=1e-3, device="auto", random_state=None, n_jobs=None, memory=None, verbose=0
):
    """The paper's proposed 305,799-parameter LSTM (see the module docstring)."""
    lstm = LSTMClassifier(
        hidden_size=256,
        head=(128, 64),
        dropout=0.2,
        recurrent_bias=False,
        **_training(lr, batch_size, max_epochs, device, random_state, verbose),
    )
    return Pipeline([*_mean_mfcc_as_sequence(n_jobs=n_jobs, memory=memory, verbose=verbose), ("lstm", lstm)])


def paper_traditional(
    *, max_epochs=100, batch_size=32, lr=1e-3, device="auto", random_state=None, n_jobs=None, memory=None, verbose=0
):
    """A small LSTM baseline standing in for the paper's traditional LSTM."""
    lstm = LSTMClassifier(
        hidden_size=128,
        dropout=0.0,
        recurrent_bias=False,
        **_training(lr, batch_size, max_epochs, device, random_state, verbose),
    )
    return Pipeline([*_mean_mfcc_as_sequence(n_jobs=n_jobs, memory=memory, verbose=verbose), ("lstm", lstm)])


def _log_mel_with_deltas(*, n_jobs, memory, verbose, speaker_normalization=False):
    """64-band log-Mel (standardized per speaker if asked) with deltas and delta-deltas, standardized."""
    steps = [("mel", MelSpectrogram(n_mels=64, n_jobs=n_jobs, memory=memory, verbose=verbose))]
    if speaker_normalization:
        steps.append(("speaker_norm", SpeakerNormalizer()))
    return [*steps, ("delta", DeltaStack(order=2)), ("scale", SequenceScaler())]


def lstm_logmel(
    *,
    speaker_normalization=False,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """A bidirectional LSTM with attention over standardized log-Mel + deltas.

    With ``speaker_normalization=True`` the log-Mel frames are first
    standardized per speaker by :class:`~sklearn_ser.features.SpeakerNormalizer`
    (speaker ids routed as ``speaker`` metadata, as in :func:`svm_mfcc`).
    """
    lstm = _attention_bilstm(**_training(lr, batch_size, max_epochs, device, random_state, verbose))
    features = _log_mel_with_deltas(
        n_jobs=n_jobs, memory=memory, verbose=verbose, speaker_normalization=speaker_normalization
    )
    return Pipeline([*features, ("lstm", lstm)])


def lstm_mfcc(
    *,
    speaker_normalization=False,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """The LSTM of :func:`lstm_logmel` over 40 MFCC with deltas and delta-deltas, frame by frame.

    The frames of :func:`svm_mfcc` before its statistics: standardized,
    per speaker first with ``speaker_normalization=True``.
    """
    steps = [("mfcc", MFCC(n_mfcc=40, n_jobs=n_jobs, memory=memory, verbose=verbose))]
    if speaker_normalization:
        steps.append(("speaker_norm", SpeakerNormalizer()))
    lstm = _attention_bilstm(**_training(lr, batch_size, max_epochs, device, random_state, verbose))
    return Pipeline([*steps, ("delta", DeltaStack(order=2)), ("scale", SequenceScaler()), ("lstm", lstm)])


def segment_lstm(
    *,
    features="mfcc",
    speaker_normalization=False,
    segment_normalization=False,
    utterance_functionals=False,
    segment_frames=50,
    segment_hop=25,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """A small LSTM over segment statistics: the mean and spread of the features in every half second.

    The frames (``features="mfcc"``: 40 MFCC with deltas and delta-deltas;
    ``"egemaps"``: the 25 eGeMAPS low-level descriptors, which need the
    ``opensmile`` package; ``"mfcc+egemaps"``: both, joined frame by frame
    by :class:`~sklearn_ser.features.SequenceUnion`, with deltas and
    delta-deltas of all 65), normalized per speaker first with
    ``speaker_normalization=True``, are summarised by
    :class:`~sklearn_ser.features.SegmentPooling` (mean and standard
    deviation over ``segment_frames`` frames every ``segment_hop``; 0.5 s
    every 0.25 s at 10 ms frames), normalized per speaker with
    ``segment_normalization=True``, standardized, into a bidirectional
    32-unit LSTM whose outputs are averaged over time, into the output layer.
    With ``utterance_functionals=True`` the 88 eGeMAPS functionals of the
    whole utterance (:class:`~sklearn_ser.features.EGeMAPS`, normalized per
    speaker with ``speaker_normalization=True``) are repeated beside every
    segment by :class:`~sklearn_ser.features.SequenceUnion`, so that each
    step reads its segment against the utterance's summary; the segment steps
    are then named ``features__segments__<step>``.
    """
    extraction = dict(n_jobs=n_jobs, memory=memory, verbose=verbose)
    streams = {"mfcc": MFCC(n_mfcc=40, **extraction), "egemaps": EGeMAPSFrames(**extraction)}
    if features not in (*streams, "mfcc+egemaps"):
        raise ValueError(f"features must be 'mfcc', 'egemaps' or 'mfcc+egemaps', got {features!r}.")
    frames = SequenceUnion(list(streams.items())) if features == "mfcc+egemaps" else streams[features]
    steps = [("frames", frames)]
    if speaker_normalization:
        steps.append(("speaker_norm", SpeakerNormalizer()))
    if features != "egemaps":
        steps.append(("delta", DeltaStack(order=2)))
    steps.append(("segments", SegmentPooling(segment_frames=segment_frames, segment_hop=segment_hop)))
    if segment_normalization:
        steps.append(("segment_norm", SpeakerNormalizer()))
    if utterance_functionals:
        utterance = [("egemaps", EGeMAPS(**extraction))]
        if speaker_normalization:
            utterance.append(("speaker_norm", SpeakerNormalizer()))
        union = [("segments", Pipeline(steps)), ("utterance", Pipeline(utterance))]
        steps = [("features", SequenceUnion(union, repeat_tables=True))]
    lstm = LSTMClassifier(
        hidden_size=32,
        bidirectional=True,
        pooling="mean",
        **_training(lr, batch_size, max_epochs, device, random_state, verbose),
    )
    return Pipeline([*steps, ("scale", SequenceScaler()), ("lstm", lstm)])


def lstm_egemaps(
    *,
    feature_set="eGeMAPSv02",
    speaker_normalization=False,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """The LSTM of :func:`lstm_logmel` over openSMILE's frame-level voice descriptors.

    :class:`~sklearn_ser.features.EGeMAPSFrames` gives the 25 eGeMAPS
    low-level descriptors (pitch, jitter, shimmer, loudness, formants,
    spectral balance, MFCC 1-4) every 10 ms (``feature_set`` as in
    :class:`~sklearn_ser.features.EGeMAPSFrames`); they are standardized,
    per speaker first with ``speaker_normalization=True``. Needs the
    ``opensmile`` package.
    """
    steps = [("egemaps", EGeMAPSFrames(feature_set=feature_set, n_jobs=n_jobs, memory=memory, verbose=verbose))]
    if speaker_normalization:
        steps.append(("speaker_norm", SpeakerNormalizer()))
    lstm = _attention_bilstm(**_training(lr, batch_size, max_epochs, device, random_state, verbose))
    return Pipeline([*steps, ("scale", SequenceScaler()), ("lstm", lstm)])


def crnn_logmel(
    *,
    speaker_normalization=False,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """A small 2-D CNN over (time, Mel) feeding the LSTM of :func:`lstm_logmel`, trained end to end.

    The input of :func:`lstm_logmel`; the static, delta and delta-delta
    blocks are the CNN's three input channels (two 3x3 convolution blocks
    of 16 and 32 channels, each halving time and frequency), and the
    bidirectional 128-unit LSTM with attention reads the CNN's frames.
    """
    crnn = CRNNClassifier(
        conv_channels=(16, 32),
        pool_time=2,
        pool_freq=2,
        feature_blocks=3,
        conv_dropout=0.2,
        hidden_size=128,
        bidirectional=True,
        pooling="attention",
        head=(64,),
        dropout=0.3,
        **_training(lr, batch_size, max_epochs, device, random_state, verbose),
    )
    features = _log_mel_with_deltas(
        n_jobs=n_jobs, memory=memory, verbose=verbose, speaker_normalization=speaker_normalization
    )
    return Pipeline([*features, ("crnn", crnn)])


def multiscale_lstm(
    *,
    segment_frames=(32, 64, 128),
    max_epochs=20,
    batch_size=64,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """Segment-level LSTMs at several scales, fused on class probabilities."""
    lstm = LSTMClassifier(
        hidden_size=64,
        pooling="mean",
        head=(64,),
        dropout=0.3,
        **_training(lr, batch_size, max_epochs, device, random_state, verbose),
    )
    return Pipeline(
        [
            *_log_mel_with_deltas(n_jobs=n_jobs, memory=memory, verbose=verbose),
            ("multiscale", MultiscaleLSTMClassifier(lstm, segment_frames=segment_frames)),
        ]
    )


def densenet_mfcc_fusion(
    *,
    weights="imagenet",
    arch="densenet121",
    max_epochs=200,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """MFCC statistics and DenseNet embeddings joined into a dense classifier."""
    mfcc_statistics = Pipeline(_mfcc_statistics(n_jobs=n_jobs, memory=memory, verbose=verbose))
    densenet_embedding = Pipeline(
        [
            ("mel", MelSpectrogram(n_mels=64, n_jobs=n_jobs, memory=memory, verbose=verbose)),
            ("delta", DeltaStack(order=2)),
            ("densenet", DenseNetEmbedder(arch=arch, weights=weights, device=device, random_state=random_state)),
        ]
    )
    return Pipeline(
        [
            ("features", FeatureUnion([("mfcc", mfcc_statistics), ("densenet", densenet_embedding)])),
            ("scale", StandardScaler()),
            (
                "mlp",
                MLPClassifier(hidden_layer_sizes=(256,), alpha=1e-3, max_iter=max_epochs, random_state=random_state),
            ),
        ]
    )


def densenet_lstm(
    *,
    weights="imagenet",
    arch="densenet121",
    segment_frames=64,
    segment_hop=32,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """An LSTM over the sequence of DenseNet embeddings of 3-channel log-Mel segments.

    The paper's segment-level CNN followed by an LSTM, with a pretrained
    DenseNet as the CNN: every ``segment_frames``-frame segment (every
    ``segment_hop`` frames) of the static, delta and delta-delta log-Mel
    image is embedded by :class:`~sklearn_ser.features.DenseNetEmbedder`
    (``pooling=None``), and a bidirectional LSTM with attention reads the
    utterance's sequence of embeddings. ``weights="imagenet"`` downloads
    torchvision's ImageNet weights on first use.
    """
    embedder = DenseNetEmbedder(
        arch=arch,
        weights=weights,
        pooling=None,
        segment_frames=segment_frames,
        segment_hop=segment_hop,
        device=device,
        random_state=random_state,
    )
    lstm = _attention_bilstm(**_training(lr, batch_size, max_epochs, device, random_state, verbose))
    return Pipeline(
        [
            ("mel", MelSpectrogram(n_mels=64, n_jobs=n_jobs, memory=memory, verbose=verbose)),
            ("delta", DeltaStack(order=2)),
            ("densenet", embedder),
            ("scale", SequenceScaler()),
            ("lstm", lstm),
        ]
    )


def _svm(C, probability, random_state):
    svm = SVC(C=C, random_state=random_state)
    return CalibratedClassifierCV(svm, cv=3, ensemble=False) if probability else svm


def svm_mfcc(
    *, speaker_normalization=False, C=10.0, probability=False, random_state=None, n_jobs=None, memory=None, verbose=0
):
    """RBF SVM on MFCC, delta and delta-delta statistics (mean and std), standardized.

    ``probability=True`` wraps the SVM in
    ``CalibratedClassifierCV(cv=3, ensemble=False)`` for ``predict_proba``
    (soft voting, probability columns of ``sklearn-ser predict``); its
    predictions then follow the calibrated probabilities, which cost several
    points of speaker-independent accuracy here, so it is off by default.

    With ``speaker_normalization=True`` the MFCC frames are first
    standardized per speaker by :class:`~sklearn_ser.features.SpeakerNormalizer`
    (speaker ids routed as ``speaker`` metadata, as
    :func:`sklearn_ser.evaluation.evaluate` does).
    """
    statistics = _mfcc_statistics(
        n_jobs=n_jobs, memory=memory, verbose=verbose, speaker_normalization=speaker_normalization
    )
    return Pipeline([*statistics, ("scale", StandardScaler()), ("svm", _svm(C, probability, random_state))])


def svm_egemaps(
    *,
    feature_set="eGeMAPSv02",
    speaker_normalization=False,
    C=1.0,
    probability=False,
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """RBF SVM on openSMILE eGeMAPS functionals (88), standardized.

    Needs the ``opensmile`` package (``pip install sklearn-ser[opensmile]``);
    ``probability`` as in :func:`svm_mfcc`.
    With ``speaker_normalization=True`` the functionals are standardized per
    speaker by :class:`~sklearn_ser.features.SpeakerNormalizer` instead of
    over all training utterances.
    """
    steps = [("egemaps", EGeMAPS(feature_set=feature_set, n_jobs=n_jobs, memory=memory, verbose=verbose))]
    steps.append(("speaker_norm", SpeakerNormalizer()) if speaker_normalization else ("scale", StandardScaler()))
    steps.append(("svm", _svm(C, probability, random_state)))
    return Pipeline(steps)


def svm_best(*, C=10.0, probability=False, random_state=None, n_jobs=None, memory=None, verbose=0):
    """The best speaker-independent SVM pipeline found on TESS and the synthetic corpus.

    MFCC, delta and delta-delta statistics (mean and std over time) joined
    with openSMILE's eGeMAPS functionals, standardized per speaker by
    :class:`~sklearn_ser.features.SpeakerNormalizer` (speaker ids routed as
    ``speaker`` metadata; without them, with the training statistics), into
    an RBF SVM (``probability=True``: calibrated, as in :func:`svm_mfcc`).
    How it was chosen and its measured scores:
    ``docs/evaluation.md``. Needs the ``opensmile`` package.
    """
    mfcc_statistics = Pipeline(_mfcc_statistics(n_jobs=n_jobs, memory=memory, verbose=verbose))
    egemaps = EGeMAPS(n_jobs=n_jobs, memory=memory, verbose=verbose)
    return Pipeline(
        [
            ("features", FeatureUnion([("mfcc", mfcc_statistics), ("egemaps", egemaps)])),
            ("speaker_norm", SpeakerNormalizer()),
            ("svm", _svm(C, probability, random_state)),
        ]
    )


#: The pretrained encoder of the ssl recipes, the model their choice was measured with.
SPEECH_MODEL = "openai/whisper-base"


def _speech_embedder(model, layer, pooling, local_files_only, device, n_jobs, memory, verbose):
    """The SpeechEmbedder of the ssl recipes."""
    return SpeechEmbedder(
        model=model,
        layer=layer,
        pooling=pooling,
        local_files_only=local_files_only,
        device=device,
        n_jobs=n_jobs,
        memory=memory,
        verbose=verbose,
    )


def ssl_best(*, model=SPEECH_MODEL, local_files_only=True, C=1.0, device="auto", n_jobs=None, memory=None, verbose=0):
    """The best speaker-independent pipeline found on TESS and the synthetic corpus.

    :class:`~sklearn_ser.features.SpeechEmbedder` runs OpenAI Whisper base's
    encoder on each utterance at its own length (``whisper_input="trimmed"``)
    as far as its first transformer layer (``layer=1``; the five layers
    after it are not run) and gives the mean and standard deviation of that
    hidden state over the utterance's frames (``pooling="mean+std"``, 1024
    features), which :class:`~sklearn_ser.features.SpeakerNormalizer`
    standardizes per speaker (speaker ids routed as ``speaker`` metadata;
    without them, with the training statistics), into a logistic regression
    (``C``). Among every hidden state, the mean of them and a learned
    weighting of them, with logistic regression, linear and RBF SVMs, an MLP
    and an LSTM over frames, it tied for the best balanced accuracy leaving
    one speaker out, averaged over TESS and the synthetic corpus, and was the
    cheapest of those tied (``docs/evaluation.md``). ``model`` is a Hugging
    Face model id or a local folder; the layer was chosen for Whisper base,
    so with another model, choose it again (``layer`` is in the default
    search space). Needs the ``transformers`` package and the model's
    weights, which ``sklearn-ser fetch-model openai/whisper-base`` gets once.
    """
    embedder = _speech_embedder(model, 1, "mean+std", local_files_only, device, n_jobs, memory, verbose)
    return Pipeline(
        [
            ("speech", embedder),
            ("speaker_norm", SpeakerNormalizer()),
            ("logreg", LogisticRegression(C=C, max_iter=3000)),
        ]
    )


def ssl_svm(
    *,
    model=SPEECH_MODEL,
    layer="mean",
    local_files_only=True,
    C=10.0,
    probability=False,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """A pretrained speech encoder's embeddings, averaged over time, normalized per speaker, into an RBF SVM.

    :class:`~sklearn_ser.features.SpeechEmbedder` gives the mean over the
    utterance of the encoder's hidden states (by default the mean of all
    its layers, the usual frozen-encoder practice), which
    :class:`~sklearn_ser.features.SpeakerNormalizer` standardizes per
    speaker (speaker ids routed as ``speaker`` metadata; without them, with
    the training statistics). ``model`` is a Hugging Face model id or a
    local folder written by ``save_pretrained``; with
    ``local_files_only=True`` nothing is downloaded. ``probability`` as in
    :func:`svm_mfcc`. A Whisper encoder sees its 30 s window
    (``whisper_input="padded"``): the mean of its layers loses three points
    at the audio's own length (``docs/evaluation.md``), at a twentieth of
    the cost. Needs the ``transformers`` package.
    """
    embedder = _speech_embedder(model, layer, "mean", local_files_only, device, n_jobs, memory, verbose)
    embedder.set_params(whisper_input="padded")
    return Pipeline(
        [("speech", embedder), ("speaker_norm", SpeakerNormalizer()), ("svm", _svm(C, probability, random_state))]
    )


def ssl_lstm(
    *,
    model=SPEECH_MODEL,
    layer=1,
    local_files_only=True,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """The LSTM of :func:`lstm_logmel` over one layer of a pretrained speech encoder, frame by frame.

    :class:`~sklearn_ser.features.SpeechEmbedder` gives the hidden states
    of layer ``layer`` (by default 1, the hidden state that :func:`ssl_best`
    pools, the best of Whisper base's for pooled features) every 20 ms,
    normalized per speaker and standardized, into a bidirectional 128-unit
    LSTM with attention.
    ``model`` and ``local_files_only`` as in :func:`ssl_svm`. Needs the
    ``transformers`` package.
    """
    embedder = _speech_embedder(model, layer, None, local_files_only, device, n_jobs, memory, verbose)
    lstm = _attention_bilstm(**_training(lr, batch_size, max_epochs, device, random_state, verbose))
    return Pipeline(
        [("speech", embedder), ("speaker_norm", SpeakerNormalizer()), ("scale", SequenceScaler()), ("lstm", lstm)]
    )


def lstm_best(
    *, max_epochs=30, batch_size=32, lr=1e-3, device="auto", random_state=None, n_jobs=None, memory=None, verbose=0
):
    """The best speaker-independent sequence model found on TESS and the synthetic corpus.

    :func:`segment_lstm` over MFCC and eGeMAPS low-level descriptors
    (``features="mfcc+egemaps"``), normalized per speaker (speaker ids
    routed as ``speaker`` metadata; without them, with a warning, the frames
    per utterance and the functionals with the training statistics, which
    costs much of its accuracy): the mean and spread of the 65 descriptors and their deltas
    in every second (``segment_frames=100`` every ``segment_hop=50``), each
    beside the utterance's 88 eGeMAPS functionals
    (``utterance_functionals=True``), read by a 128-unit bidirectional LSTM
    whose outputs are averaged over time. How it was chosen and its measured
    scores: ``docs/evaluation.md``. Needs the ``opensmile`` package.
    """
    pipeline = segment_lstm(
        features="mfcc+egemaps",
        speaker_normalization=True,
        utterance_functionals=True,
        segment_frames=100,
        segment_hop=50,
        **_training(lr, batch_size, max_epochs, device, random_state, verbose),
        n_jobs=n_jobs,
        memory=memory,
    )
    return pipeline.set_params(lstm__hidden_size=128)


def best(*, model=SPEECH_MODEL, local_files_only=True, C=1.0, device="auto", n_jobs=None, memory=None, verbose=0):
    """The best speaker-independent pipeline found on TESS and the synthetic corpus: :func:`ssl_best`.

    Chosen among all recipes by balanced accuracy leaving one speaker out,
    averaged over TESS and the synthetic corpus, with cost in the rule:
    within the winner's spread, the cheaper recipe wins
    (``docs/evaluation.md``). ``ssl-best`` leads the best recipe without
    pretrained weights, ``"best-offline"`` (:func:`lstm_best`), by seven
    points, at a fraction of its training cost. It needs Whisper base's
    weights (``sklearn-ser fetch-model openai/whisper-base``); without them,
    ``fit`` names the command that gets them and ``"best-offline"``.
    """
    return ssl_best(
        model=model,
        local_files_only=local_files_only,
        C=C,
        device=device,
        n_jobs=n_jobs,
        memory=memory,
        verbose=verbose,
    )


def best_offline(
    *, max_epochs=30, batch_size=32, lr=1e-3, device="auto", random_state=None, n_jobs=None, memory=None, verbose=0
):
    """The best speaker-independent pipeline that needs no pretrained weights: :func:`lstm_best`.

    Chosen by the rule of :func:`best` among the recipes that download
    nothing; it was ``"best"`` until the pretrained-encoder recipe
    ``"ssl-best"`` overtook it. Needs the ``opensmile`` package.
    """
    return lstm_best(
        max_epochs=max_epochs,
        batch_size=batch_size,
        lr=lr,
        device=device,
        random_state=random_state,
        n_jobs=n_jobs,
        memory=memory,
        verbose=verbose,
    )


def fusion(
    *,
    cv=3,
    max_epochs=30,
    batch_size=32,
    lr=1e-3,
    device="auto",
    random_state=None,
    n_jobs=None,
    memory=None,
    verbose=0,
):
    """Score-level fusion of :func:`lstm_best` and :func:`svm_best`: their class probabilities, weighted.

    A :class:`~sklearn_ser.models.ScoreFusionClassifier` averages the
    probabilities of the two pipelines (``svm_best`` with ``probability=True``),
    with the weights that minimise the log loss of an inner cross-validation
    of ``cv`` folds on the training data only: by speaker (at most ``cv``
    folds) when speaker ids are routed, stratified over utterances (with a
    warning) when the training data holds one speaker. The members share the feature
    cache given as ``memory``. Training costs ``cv + 1`` fits of each member.
    Needs the ``opensmile`` package.
    """
    shared = dict(random_state=random_state, n_jobs=n_jobs, memory=memory, verbose=verbose)
    members = [
        ("lstm", lstm_best(max_epochs=max_epochs, batch_size=batch_size, lr=lr, device=device, **shared)),
        ("svm", svm_best(probability=True, **shared)),
    ]
    return Pipeline([("fusion", ScoreFusionClassifier(members, cv=cv, scoring="neg_log_loss"))])


RECIPES = {
    "paper-proposed": paper_proposed,
    "paper-traditional": paper_traditional,
    "segment-lstm": segment_lstm,
    "lstm-egemaps": lstm_egemaps,
    "lstm-best": lstm_best,
    "lstm-logmel": lstm_logmel,
    "lstm-mfcc": lstm_mfcc,
    "multiscale-lstm": multiscale_lstm,
    "best": best,
    "best-offline": best_offline,
    "svm-best": svm_best,
    "crnn-logmel": crnn_logmel,
    "densenet-mfcc-fusion": densenet_mfcc_fusion,
    "fusion": fusion,
    "densenet-lstm": densenet_lstm,
    "ssl-best": ssl_best,
    "ssl-lstm": ssl_lstm,
    "ssl-svm": ssl_svm,
    "svm-egemaps": svm_egemaps,
    "svm-mfcc": svm_mfcc,
}


def list_recipes():
    """Names of the available recipes.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from sklearn_ser.recipes import list_recipes
    >>> list_recipes()
    ['best', 'best-offline', 'crnn-logmel', 'densenet-lstm', 'densenet-mfcc-fusion', 'fusion', 'lstm-best',
     'lstm-egemaps', 'lstm-logmel', 'lstm-mfcc', 'multiscale-lstm', 'paper-proposed',
     'paper-traditional', 'segment-lstm', 'ssl-best', 'ssl-lstm', 'ssl-svm', 'svm-best', 'svm-egemaps',
     'svm-mfcc']
    """
    return sorted(RECIPES)


def describe_recipe(name):
    """One line about a recipe: what it is, how it trains, and what it needs beyond the base install.

    Parameters
    ----------
    name : str
        One of :func:`list_recipes`.

    Returns
    -------
    description : str

    Examples
    --------
    >>> from sklearn_ser.recipes import describe_recipe
    >>> describe_recipe("svm-mfcc")
    'RBF SVM on MFCC, delta and delta-delta statistics (mean and std), standardized. [no network training]'
    >>> describe_recipe("best")
    'The best speaker-independent pipeline found on TESS and the synthetic corpus: ssl_best. [no network training;
     needs pretrained speech encoder weights (sklearn-ser fetch-model openai/whisper-base), transformers]'
    """
    options = recipe_options(name)
    summary = re.sub(r":\w+:`~?([^`]+)`", r"\1", RECIPES[name].__doc__.strip().splitlines()[0])
    trains = "trains a neural network for max_epochs epochs" if "max_epochs" in options else "no network training"
    steps = [type(value).__name__ for value in get_recipe(name).get_params(deep=True).values()]
    needs = []
    if "model" in options:
        needs += [f"pretrained speech encoder weights (sklearn-ser fetch-model {SPEECH_MODEL})", "transformers"]
    if "weights" in options:
        needs.append("ImageNet weights, downloaded by torchvision on first use")
    if {"EGeMAPS", "EGeMAPSFrames"} & set(steps):
        needs.append("opensmile")
    return f"{summary} [{trains}" + (f"; needs {', '.join(needs)}]" if needs else "]")


def recipe_options(name):
    """Names of the options a recipe accepts (besides ``step__param`` overrides).

    Parameters
    ----------
    name : str
        One of :func:`list_recipes`.

    Returns
    -------
    options : list of str

    Examples
    --------
    >>> from sklearn_ser.recipes import recipe_options
    >>> "max_epochs" in recipe_options("lstm-logmel"), "max_epochs" in recipe_options("svm-mfcc")
    (True, False)
    """
    if name not in RECIPES:
        close = difflib.get_close_matches(str(name), list_recipes(), n=1)
        suggestion = f"Did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"Unknown recipe {name!r}. {suggestion}Choose one of {list_recipes()}.")
    return sorted(inspect.signature(RECIPES[name]).parameters)


def get_recipe(name, **overrides):
    """Build the unfitted pipeline of a recipe.

    Parameters
    ----------
    name : str
        One of :func:`list_recipes`.
    **overrides
        Options of the recipe (``max_epochs``, ``random_state``, ``device``,
        ``n_jobs``, ``memory``, ``verbose``, ... as its function accepts), or
        parameters of its steps in ``step__param`` form, e.g.
        ``lstm__hidden_size=64``.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted; ``fit(paths, labels)`` trains it.

    Raises
    ------
    ValueError
        If ``name`` is not a recipe, or an override is neither an option of
        the recipe nor a parameter of its steps.

    Examples
    --------
    >>> from sklearn_ser.recipes import get_recipe
    >>> pipe = get_recipe("paper-proposed", max_epochs=5, lstm__batch_size=16)
    >>> [name for name, _ in pipe.steps]
    ['mfcc', 'pool', 'scale', 'as_sequence', 'lstm']
    >>> pipe.named_steps["lstm"].max_epochs, pipe.named_steps["lstm"].batch_size
    (5, 16)
    """
    options = recipe_options(name)
    unknown = [key for key in overrides if "__" not in key and key not in options]
    if unknown:
        moved = (
            " 'best' is now 'ssl-best' (pretrained Whisper base); the LSTM that was 'best' is 'best-offline' "
            "('lstm-best'), and the SVM pipeline before it 'svm-best'."
            if name == "best"
            else ""
        )
        raise ValueError(
            f"Recipe {name!r} has no option {unknown[0]!r}; its options are {options}, "
            f"and step parameters are given as step__param.{moved}"
        )
    pipeline = RECIPES[name](**{key: value for key, value in overrides.items() if "__" not in key})
    step_params = {key: value for key, value in overrides.items() if "__" in key}
    if step_params:
        pipeline.set_params(**step_params)
    return pipeline
