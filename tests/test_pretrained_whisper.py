"""SpeechEmbedder with real pretrained weights: OpenAI Whisper base, built offline.

The folder comes from ``shared/models/whisper-base.sh DEST`` (see
docs/contributing.md); its path is read from ``SKLEARN_SER_WHISPER_BASE``.
Without it these tests are skipped: nothing is downloaded.
"""

import math
import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from sklearn_ser import load_audio
from sklearn_ser.datasets import load_tess
from sklearn_ser.features import SpeechEmbedder

from .conftest import TESS_ROOT, requires_tess

transformers = pytest.importorskip("transformers")

WHISPER_BASE = Path(os.environ.get("SKLEARN_SER_WHISPER_BASE", "/nonexistent"))
pytestmark = pytest.mark.skipif(
    not (WHISPER_BASE / "config.json").is_file(),
    reason="no Whisper base weights: build them with shared/models/whisper-base.sh DEST and set "
    "SKLEARN_SER_WHISPER_BASE=DEST",
)
SR = 16000


@pytest.fixture(scope="module")
def utterances():
    """Five TESS utterances at 16 kHz when the corpus is there, else five synthetic vowels."""
    if TESS_ROOT.is_dir():
        paths = load_tess(TESS_ROOT)["path"].tolist()[::600]
        return [load_audio(path, sr=SR) for path in paths]
    rng = np.random.default_rng(0)
    t = np.arange(2 * SR) / SR
    return [
        (0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
        for f in (110, 160, 220, 300, 440)
    ]


def test_the_encoder_alone_is_loaded_with_a_stable_identity(utterances):
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    embedder = SpeechEmbedder(model=WHISPER_BASE, device="cpu").fit(utterances)
    assert type(embedder.model_) is WhisperEncoder
    assert (embedder.n_layers_, embedder.hidden_size_, embedder.sampling_rate_) == (6, 512, SR)
    n_parameters = sum(p.numel() for p in embedder.model_.parameters())
    assert 19e6 < n_parameters < 22e6  # the encoder's 20.6 M, not the 72.6 M of the whole model
    assert SpeechEmbedder(model=WHISPER_BASE, device="cpu").fit(utterances).model_fingerprint_ == (
        embedder.model_fingerprint_
    )


def test_trimmed_and_padded_input_agree_where_they_must(utterances):
    trimmed = SpeechEmbedder(model=WHISPER_BASE, layer=list(range(7)), pooling=None, device="cpu").fit(utterances)
    padded = clone(trimmed).set_params(whisper_input="padded").fit(utterances)
    ours, theirs = trimmed.transform(utterances), padded.transform(utterances)
    for y, a, b in zip(utterances, ours, theirs):
        assert a.shape == b.shape == (math.ceil(len(y) / 320), 7 * 512)
        states_a, states_b = a.reshape(len(a), 7, 512), b.reshape(len(b), 7, 512)
        np.testing.assert_allclose(states_a[:-1, 0], states_b[:-1, 0], rtol=1e-4, atol=1e-4)  # before attention
        cosines = [
            float(np.dot(states_a[:, k].mean(0), states_b[:, k].mean(0)))
            / float(np.linalg.norm(states_a[:, k].mean(0)) * np.linalg.norm(states_b[:, k].mean(0)))
            for k in range(7)
        ]
        assert min(cosines) > 0.8, cosines
    together = trimmed.transform(utterances)
    alone = [trimmed.transform([y])[0] for y in utterances]
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_a_recording_longer_than_the_window_is_embedded_in_pieces(utterances):
    long = np.concatenate(utterances * math.ceil(35 * SR / sum(map(len, utterances))))[: 35 * SR]
    embedder = SpeechEmbedder(model=WHISPER_BASE, layer=3, pooling=None, device="cpu").fit([long])
    (frames,) = embedder.transform([long])
    halves = embedder.transform([long[: len(long) // 2], long[len(long) // 2 :]])
    np.testing.assert_allclose(frames, np.concatenate(halves), rtol=1e-3, atol=1e-3)


@requires_tess
def test_a_new_speakers_emotions_are_recognised():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.pipeline import make_pipeline

    from sklearn_ser.features import SpeakerNormalizer

    corpus = load_tess(TESS_ROOT)
    corpus = corpus[corpus["text"].isin(sorted(set(corpus["text"]))[:12])]
    train, test = corpus[corpus["speaker"] == "OAF"], corpus[corpus["speaker"] == "YAF"]
    embedder = SpeechEmbedder(model=WHISPER_BASE, device="cpu", n_jobs=2)
    X_train = embedder.fit_transform(train["path"].tolist())
    X_test = embedder.transform(test["path"].tolist())
    norm = SpeakerNormalizer()
    head = make_pipeline(LogisticRegression(max_iter=3000))
    head.fit(norm.fit_transform(X_train, speaker=train["speaker"]), train["label"])
    predicted = head.predict(norm.transform(X_test, speaker=test["speaker"]))
    assert balanced_accuracy_score(test["label"], predicted) > 0.5  # chance: 1/7
