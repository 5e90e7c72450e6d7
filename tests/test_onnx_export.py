"""ONNX export: onnxruntime on the exported graph against the pipeline's predict_proba.

Parity is checked on 50 utterances of 0.3 s to 10 s (cut from and joined out
of a synthetic corpus), fed as one padded batch (the padding filled with
noise, so that any leak would show) and one by one: the same labels, and
probabilities within ``ATOL`` absolute of ``predict_proba``.
"""

import json

import numpy as np
import pytest
import soundfile as sf

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
pytest.importorskip("skl2onnx")

from sklearn_ser.datasets import make_synthetic_corpus  # noqa: E402
from sklearn_ser.export import UnsupportedStepError, to_onnx  # noqa: E402
from sklearn_ser.recipes import get_recipe  # noqa: E402

ATOL = 1e-4
SR = 16000

#: Covered recipes with tiny settings: (recipe, overrides).
TINY = {
    "svm-mfcc": dict(probability=True, random_state=0),
    "paper-proposed": dict(max_epochs=1, device="cpu", random_state=0, lstm__hidden_size=8, lstm__head=(8, 4)),
    "paper-traditional": dict(max_epochs=1, device="cpu", random_state=0, lstm__hidden_size=8),
    "lstm-logmel": dict(max_epochs=2, device="cpu", random_state=0, lstm__hidden_size=8, lstm__head=(8,)),
    "crnn-logmel": dict(
        max_epochs=1, device="cpu", random_state=0, crnn__conv_channels=(4, 8), crnn__hidden_size=8, crnn__head=(8,)
    ),
    "lstm-mfcc": dict(max_epochs=1, device="cpu", random_state=0, lstm__hidden_size=8, lstm__head=(8,)),
    "segment-lstm": dict(max_epochs=1, device="cpu", random_state=0, lstm__hidden_size=8),
    "multiscale-lstm": dict(
        max_epochs=1,
        device="cpu",
        random_state=0,
        multiscale__estimator__hidden_size=8,
        multiscale__estimator__head=(8,),
    ),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(training waveforms, their labels, 50 test utterances of 0.3 s to 10 s, their labels)."""
    frame = make_synthetic_corpus(
        tmp_path_factory.mktemp("corpus"), n_speakers=2, n_words=3, emotions=("angry", "neutral", "sad")
    )
    waveforms = [sf.read(path, dtype="float32")[0] for path in frame["path"]]
    labels = frame["label"].to_numpy(dtype=object)
    rng = np.random.default_rng(0)
    joined = np.concatenate(waveforms)
    tests, test_labels = [], []
    for seconds in np.geomspace(0.3, 10.0, 50):
        start = int(rng.integers(0, len(joined)))
        n = int(seconds * SR)
        tests.append(np.resize(np.roll(joined, -start), n).astype(np.float32))
        test_labels.append(labels[0])
    return waveforms, labels, tests, test_labels


@pytest.fixture(scope="module")
def fitted(corpus):
    waveforms, labels, _, _ = corpus
    return {name: get_recipe(name, **options).fit(waveforms, labels) for name, options in TINY.items()}


def padded(waveforms, fill_rng=None):
    """A right-padded float32 batch (padding from ``fill_rng`` noise, else zeros) and its int64 lengths."""
    lengths = np.array([len(w) for w in waveforms], dtype=np.int64)
    batch = np.zeros((len(waveforms), lengths.max()), dtype=np.float32)
    if fill_rng is not None:
        batch[:] = fill_rng.standard_normal(batch.shape).astype(np.float32)
    for row, w in zip(batch, waveforms):
        row[: len(w)] = w
    return batch, lengths


def run_graph(graph, waveforms, *, one_by_one=False):
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    if one_by_one:
        return np.vstack([session.run(None, dict(zip(("waveforms", "lengths"), padded([w]))))[0] for w in waveforms])
    batch, lengths = padded(waveforms, np.random.default_rng(1))
    return session.run(None, {"waveforms": batch, "lengths": lengths})[0]


@pytest.mark.parametrize("recipe", list(TINY))
def test_parity_with_predict_proba(recipe, fitted, corpus, tmp_path):
    """Probabilities within ATOL of predict_proba, in a padded batch and alone, and the same labels."""
    model = fitted[recipe]
    _, _, tests, _ = corpus
    path = tmp_path / f"{recipe}.onnx"
    graph = to_onnx(model, path)
    onnx.checker.check_model(onnx.load(path))
    expected = model.predict_proba(tests)
    for one_by_one in (False, True):
        got = run_graph(graph, tests, one_by_one=one_by_one)
        assert got.shape == expected.shape and got.dtype == np.float32
        print(f"{recipe} one_by_one={one_by_one}: max abs difference {np.abs(got - expected).max():.1e}")
        assert np.abs(got - expected).max() < ATOL, (recipe, one_by_one, np.abs(got - expected).max())
        np.testing.assert_array_equal(model.classes_[got.argmax(axis=1)], model.predict(tests))
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    assert json.loads(metadata["labels"]) == model.classes_.tolist()
    assert metadata["sampling_rate"] == "16000" and json.loads(metadata["recipe"]) is None


@pytest.mark.parametrize(
    "spectral",
    [
        dict(n_mels=32, power=1.0, center=False, top_db=None),
        dict(n_mels=24, n_fft=400, hop_length=128, log="natural", window="hamming", fmin=50.0, fmax=7000.0),
    ],
)
def test_spectral_options_pooled_statistics_and_logistic_regression(spectral, corpus):
    """Other spectral settings, every pooled statistic the graph computes, a first-order delta and skl2onnx's
    logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_ser.export._sequence_steps import POOLED_STATISTICS
    from sklearn_ser.features import DeltaStack, MelSpectrogram, SequencePooling

    waveforms, labels, tests, _ = corpus
    model = Pipeline(
        [
            ("mel", MelSpectrogram(**spectral)),
            ("delta", DeltaStack(order=1, width=5)),
            ("pool", SequencePooling(stats=POOLED_STATISTICS)),
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(max_iter=2000)),
        ]
    ).fit(waveforms, labels)
    graph = to_onnx(model)
    expected = model.predict_proba(tests)
    for one_by_one in (False, True):
        difference = np.abs(run_graph(graph, tests, one_by_one=one_by_one) - expected).max()
        print(f"{spectral} one_by_one={one_by_one}: max abs difference {difference:.1e}")
        assert difference < ATOL


@pytest.fixture(scope="module")
def whisper_folder(tiny_whisper_folder):
    return tiny_whisper_folder


WHISPER_TINY = {
    "ssl-best": {},
    "ssl-lstm": dict(max_epochs=1, lstm__hidden_size=8, lstm__head=(8,), random_state=0),
    "ssl-svm": dict(probability=True, random_state=0),
}


@pytest.mark.parametrize("recipe", list(WHISPER_TINY))
def test_whisper_recipes(recipe, whisper_folder, corpus):
    """The pretrained-encoder recipes (a tiny Whisper), with SpeakerNormalizer as predict runs it without ids."""
    waveforms, labels, tests, _ = corpus
    options = WHISPER_TINY[recipe]
    model = get_recipe(recipe, model=whisper_folder, device="cpu", **options).fit(waveforms, labels)
    with pytest.raises(UnsupportedStepError, match=r"step 'speaker_norm' \(SpeakerNormalizer\)"):
        to_onnx(model)
    graph = to_onnx(model, speaker_normalizer="without-speaker-ids")
    expected = model.predict_proba(tests)
    for one_by_one in (False, True):
        got = run_graph(graph, tests, one_by_one=one_by_one)
        print(f"{recipe} one_by_one={one_by_one}: max abs difference {np.abs(got - expected).max():.1e}")
        assert np.abs(got - expected).max() < ATOL, (recipe, one_by_one, np.abs(got - expected).max())
        np.testing.assert_array_equal(model.classes_[got.argmax(axis=1)], model.predict(tests))


def test_whisper_pieces_of_long_utterances(whisper_folder, corpus):
    """A Whisper encoder with max_duration below the longest utterances: the graph cuts the embedder's pieces."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_ser.features import SpeechEmbedder

    waveforms, labels, tests, _ = corpus
    embedder = SpeechEmbedder(model=whisper_folder, layer=1, pooling="mean+std", max_duration=3.5, device="cpu")
    model = Pipeline([("speech", embedder), ("scale", StandardScaler()), ("logreg", LogisticRegression(max_iter=2000))])
    model.fit(waveforms, labels)
    graph = to_onnx(model)
    expected = model.predict_proba(tests)
    for one_by_one in (False, True):
        difference = np.abs(run_graph(graph, tests, one_by_one=one_by_one) - expected).max()
        print(f"whisper max_duration=3.5 one_by_one={one_by_one}: max abs difference {difference:.1e}")
        assert difference < ATOL


#: Tiny encoders of the wav2vec 2.0 family, configured as the pretrained ones are: the model (``<name>Model``,
#: ``<name>Config``), its config's
#: options and its feature extractor's. A frame every 320 samples (20 ms at 16 kHz), as in those models, keeps a
#: 10 s utterance at 500 frames: (10, 5), (8, 8), (8, 8) give a receptive field of 325 samples.
SSL_ENCODER = dict(
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    conv_dim=(8, 8, 8),
    conv_kernel=(10, 8, 8),
    conv_stride=(5, 8, 8),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
SSL_ARCHS = {
    # wav2vec2-base: a GroupNorm over time, no attention mask, normalised input
    "wav2vec2": ("Wav2Vec2", {}, dict(do_normalize=True, return_attention_mask=False)),
    # hubert-base: the same, with raw input
    "hubert": ("Hubert", {}, dict(do_normalize=False, return_attention_mask=False)),
    # wavlm-base-plus: layer-normalised convolutions, attention mask (batched with padding by the embedder)
    "wavlm": ("WavLM", dict(feat_extract_norm="layer"), dict(do_normalize=True, return_attention_mask=True)),
    # wav2vec2-large-lv60: layer-normalised convolutions, pre-norm transformer layers, attention mask
    "wav2vec2-large": (
        "Wav2Vec2",
        dict(feat_extract_norm="layer", do_stable_layer_norm=True),
        dict(do_normalize=True, return_attention_mask=True),
    ),
}


@pytest.fixture(scope="module")
def ssl_folders(tmp_path_factory):
    """A checkpoint folder of a tiny random encoder of every entry of SSL_ARCHS."""
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folders = {}
    for arch, (name, options, extractor) in SSL_ARCHS.items():
        config = getattr(transformers, f"{name}Config")(**SSL_ENCODER, **options)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = getattr(transformers, f"{name}Model")(config)
        folders[arch] = tmp_path_factory.mktemp(arch)
        model.save_pretrained(folders[arch])
        transformers.Wav2Vec2FeatureExtractor(**extractor).save_pretrained(folders[arch])
    return folders


#: SpeechEmbedder's settings with each encoder: layer selections, pooling in the embedder or after it, and
#: max_duration below the longest test utterance (10 s), which cuts those into pieces.
SSL_EMBEDDINGS = {
    "wav2vec2": dict(layer="mean", pooling="mean+std", max_duration=3.0),
    "hubert": dict(layer=[0, 2], pooling="mean"),
    "wavlm": dict(layer=-1, pooling=None, max_duration=4.5),
    "wav2vec2-large": dict(layer=1, pooling="mean", max_duration=2.5),
}


@pytest.mark.parametrize("arch", list(SSL_ARCHS))
def test_wav2vec2_family_embedder_and_logistic_regression(arch, ssl_folders, corpus):
    """SpeechEmbedder with a wav2vec 2.0, HuBERT or WavLM encoder: each utterance as the embedder runs it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_ser.features import SequencePooling, SpeechEmbedder

    waveforms, labels, tests, _ = corpus
    options = SSL_EMBEDDINGS[arch]
    steps = [("speech", SpeechEmbedder(model=ssl_folders[arch], device="cpu", **options))]
    if options["pooling"] is None:
        steps.append(("pool", SequencePooling(stats=("mean", "std", "max"))))
    steps += [("scale", StandardScaler()), ("logreg", LogisticRegression(max_iter=2000))]
    model = Pipeline(steps).fit(waveforms, labels)
    graph = to_onnx(model)
    expected = model.predict_proba(tests)
    for one_by_one in (False, True):
        got = run_graph(graph, tests, one_by_one=one_by_one)
        print(f"{arch} {options} one_by_one={one_by_one}: max abs difference {np.abs(got - expected).max():.1e}")
        assert np.abs(got - expected).max() < ATOL, (arch, one_by_one, np.abs(got - expected).max())
        np.testing.assert_array_equal(model.classes_[got.argmax(axis=1)], model.predict(tests))


def test_ssl_best_with_wav2vec2(ssl_folders, corpus):
    """The ssl-best recipe on a tiny wav2vec 2.0 encoder, SpeakerNormalizer as predict runs it without ids."""
    waveforms, labels, tests, _ = corpus
    model = get_recipe("ssl-best", model=ssl_folders["wav2vec2"], device="cpu").fit(waveforms, labels)
    with pytest.raises(UnsupportedStepError, match=r"step 'speaker_norm' \(SpeakerNormalizer\)"):
        to_onnx(model)
    graph = to_onnx(model, speaker_normalizer="without-speaker-ids")
    expected = model.predict_proba(tests)
    for one_by_one in (False, True):
        got = run_graph(graph, tests, one_by_one=one_by_one)
        print(f"ssl-best (wav2vec2) one_by_one={one_by_one}: max abs difference {np.abs(got - expected).max():.1e}")
        assert np.abs(got - expected).max() < ATOL, (one_by_one, np.abs(got - expected).max())
        np.testing.assert_array_equal(model.classes_[got.argmax(axis=1)], model.predict(tests))


def test_metadata_recipe_and_file_kind(fitted, tmp_path):
    """The recipe recorded by sklearn-ser fit reaches the metadata; a file that is not ONNX is never replaced."""
    from sklearn_ser.timeline._trained_on import record_trained_on

    model = record_trained_on(fitted["svm-mfcc"], [2.0], recipe="svm-mfcc")
    try:
        graph = to_onnx(model)
    finally:
        del model.sklearn_ser_trained_on_
    metadata = {entry.key: entry.value for entry in graph.metadata_props}
    assert json.loads(metadata["recipe"]) == "svm-mfcc" and metadata["sklearn_ser_version"]
    other = tmp_path / "notes.onnx"
    other.write_text("my notes")
    with pytest.raises(ValueError, match="is not an ONNX model"):
        to_onnx(model, other)
    assert other.read_text() == "my notes"
    to_onnx(model, tmp_path / "model.onnx")
    to_onnx(model, tmp_path / "model.onnx")  # an ONNX model is replaced


def test_speaker_normalizer_refused_then_per_utterance(corpus):
    """Refused by default; exported as predict runs it without speaker ids (per utterance) when asked.

    (svm-mfcc with speaker_normalization=True is not a fair parity check: the
    per-utterance means of normalized MFCC are float rounding noise, which
    its StandardScaler divides by their tiny spread, so its probabilities
    depend on rounding in any implementation.)
    """
    waveforms, labels, tests, _ = corpus
    options = dict(TINY["lstm-logmel"], speaker_normalization=True)
    model = get_recipe("lstm-logmel", **options).fit(waveforms, labels)
    with pytest.raises(UnsupportedStepError, match=r"step 'speaker_norm' \(SpeakerNormalizer\).*speaker"):
        to_onnx(model)
    graph = to_onnx(model, speaker_normalizer="without-speaker-ids")
    difference = np.abs(run_graph(graph, tests[::5]) - model.predict_proba(tests[::5])).max()
    print(f"lstm-logmel with speaker_normalization=True: max abs difference {difference:.1e}")
    assert difference < ATOL


def test_egemaps_refused(corpus):
    pytest.importorskip("opensmile")
    waveforms, labels, _, _ = corpus
    model = get_recipe("svm-egemaps", probability=True, random_state=0).fit(waveforms[:9], labels[:9])
    with pytest.raises(UnsupportedStepError, match=r"step 'egemaps' \(EGeMAPS\).*openSMILE"):
        to_onnx(model)


def test_union_with_opensmile_refused(corpus):
    """best-offline joins MFCC and eGeMAPS descriptors: the openSMILE step inside the union is named."""
    pytest.importorskip("opensmile")
    waveforms, labels, _, _ = corpus
    model = get_recipe("best-offline", max_epochs=1, device="cpu", random_state=0, lstm__hidden_size=4)
    model.fit(waveforms[:9], labels[:9])
    with pytest.raises(UnsupportedStepError, match=r"step 'features__segments__frames__egemaps' \(EGeMAPSFrames\)"):
        to_onnx(model)


def test_multiscale_with_other_segment_estimator_refused(corpus):
    """MultiscaleLSTMClassifier is exported with its LSTM (or CRNN) segments; another segment model is named."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from sklearn_ser.features import MelSpectrogram, SequencePooling
    from sklearn_ser.models import MultiscaleLSTMClassifier

    waveforms, labels, _, _ = corpus
    segments = Pipeline([("pool", SequencePooling()), ("scale", StandardScaler()), ("logreg", LogisticRegression())])
    model = Pipeline(
        [("mel", MelSpectrogram(n_mels=16)), ("multiscale", MultiscaleLSTMClassifier(segments, segment_frames=(16,)))]
    ).fit(waveforms, labels)
    with pytest.raises(UnsupportedStepError, match=r"step 'multiscale' \(MultiscaleLSTMClassifier\).*Pipeline"):
        to_onnx(model)


def test_classifier_without_probabilities_refused(corpus):
    waveforms, labels, _, _ = corpus
    model = get_recipe("svm-mfcc", random_state=0).fit(waveforms, labels)
    with pytest.raises(UnsupportedStepError, match=r"step 'svm' \(SVC\).*probability=True"):
        to_onnx(model)


def test_export_command(fitted, tmp_path, capsys):
    import argparse

    import joblib

    from sklearn_ser.export._command import add_export

    joblib.dump(fitted["paper-traditional"], tmp_path / "model.joblib")
    parser = argparse.ArgumentParser()
    add_export(parser.add_subparsers())
    args = parser.parse_args(["export", str(tmp_path / "model.joblib"), str(tmp_path / "model.onnx")])
    assert args.run(args) == 0
    assert "Wrote" in capsys.readouterr().out and (tmp_path / "model.onnx").stat().st_size > 0


def test_example_runs_without_the_toolkit(capsys):
    from tests.test_examples import run_example

    label = run_example("onnx_inference", "--quick")
    assert label in ("angry", "neutral", "sad", "happy", "fear", "disgust", "ps")
    assert "predicted" in capsys.readouterr().out
