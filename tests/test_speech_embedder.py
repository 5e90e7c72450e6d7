"""SpeechEmbedder on tiny, randomly initialised models of every supported architecture; nothing is downloaded."""

import math
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import soundfile
import torch
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser import load_audio
from sklearn_ser.features import FeatureSequences, SequencePooling, SpeechEmbedder

from .conftest import TINY_WHISPER

transformers = pytest.importorskip("transformers")

SR = 16000
ARCHS = ["wav2vec2", "hubert", "wavlm", "whisper"]
LAYERS = [1, -1, [0, 2], "mean"]
POOLINGS = ["mean", "mean+std", None]
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA"))]

ENCODER = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
CONVOLUTIONS = dict(
    conv_dim=(16, 16),
    conv_kernel=(10, 3),
    conv_stride=(5, 2),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
RECEPTIVE_FIELD = 20  # samples of one frame of CONVOLUTIONS: (3 - 1) * 5 + 10


def tiny_model(arch, seed=0):
    """A randomly initialised model of ``arch`` (2 layers, 16 dimensions) and its feature extractor."""
    t = transformers
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if arch == "wav2vec2":  # as wav2vec2-base: no attention mask, normalised input
            model = t.Wav2Vec2Model(t.Wav2Vec2Config(**ENCODER, **CONVOLUTIONS))
            return model, t.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
        if arch == "hubert":  # as hubert-base: no attention mask, raw input
            model = t.HubertModel(t.HubertConfig(**ENCODER, **CONVOLUTIONS))
            return model, t.Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=False)
        if arch == "wavlm":  # as wavlm-base-plus: layer-normalised convolutions, attention mask
            model = t.WavLMModel(t.WavLMConfig(**ENCODER, **CONVOLUTIONS, feat_extract_norm="layer"))
            return model, t.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True)
        model = t.WhisperModel(t.WhisperConfig(**TINY_WHISPER))
        return model, t.WhisperFeatureExtractor(feature_size=TINY_WHISPER["num_mel_bins"])


def save(folder, model, feature_extractor):
    model.save_pretrained(folder)
    feature_extractor.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech_models")
    found = {arch: save(root / arch, *tiny_model(arch)) for arch in ARCHS}
    found["wav2vec2-other-weights"] = save(root / "wav2vec2-other-weights", *tiny_model("wav2vec2", seed=1))
    # An attention mask cannot help a GroupNorm over time (as in wavlm-base): padding changes it.
    group_norm = transformers.WavLMModel(transformers.WavLMConfig(**ENCODER, **CONVOLUTIONS, feat_extract_norm="group"))
    found["wavlm-group-norm"] = save(root / "wavlm-group-norm", group_norm, tiny_model("wavlm")[1])
    return found


@pytest.fixture(scope="module")
def waveforms():
    rng = np.random.default_rng(0)
    t = np.arange(8000) / SR
    voiced = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(8000)
    return [voiced.astype(np.float32), (0.1 * rng.standard_normal(5000)).astype(np.float32)]


def reference_hidden_states(folder, y):
    """The model's own hidden states of ``y``, its feature extractor applied by hand; the frames of the audio only."""
    model = transformers.AutoModel.from_pretrained(folder).eval()
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    inputs = extractor(y, sampling_rate=SR, return_tensors="pt")
    n_frames = None
    if model.config.model_type == "whisper":  # 30 s of input; 20 ms frames, those of the audio kept
        model, n_frames = model.encoder, math.ceil(len(y) / 320)
    with torch.inference_mode():
        hidden_states = model(**inputs, output_hidden_states=True).hidden_states
    return [h[0, :n_frames].numpy() for h in hidden_states]


def expected_features(hidden_states, layer, pooling):
    if layer == "mean":
        frames = np.mean(hidden_states, axis=0)
    else:
        frames = np.concatenate([hidden_states[k] for k in (layer if isinstance(layer, list) else [layer])], axis=1)
    if pooling is None:
        return frames
    frames = frames.astype(np.float64)
    return np.concatenate([frames.mean(axis=0), *([frames.std(axis=0)] if pooling == "mean+std" else [])])


def forward_batch_sizes(embedder):
    """The batch size of every forward pass of the fitted embedder's encoder, from now on."""
    sizes = []
    # The encoder's first module: trimmed Whisper runs the encoder's modules, not its forward.
    first = embedder.model_.conv1 if embedder.model_type_ == "whisper" else embedder.model_
    first.register_forward_pre_hook(
        lambda module, args, kwargs: sizes.append(len(next(iter([*args, *kwargs.values()])))), with_kwargs=True
    )
    return sizes


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", ARCHS)
def test_features_are_the_models_own_hidden_states(folders, waveforms, arch, device):
    # Whisper through transformers' own forward: its input padded to 30 s
    embedder = SpeechEmbedder(model=folders[arch], whisper_input="padded", device=device).fit(waveforms)
    assert (embedder.n_layers_, embedder.hidden_size_, embedder.model_type_) == (2, 16, arch)
    assert embedder.sampling_rate_ == SR and embedder.device_.type == device
    references = [reference_hidden_states(folders[arch], y) for y in waveforms]
    # CUDA convolutions use TF32 by default
    tolerance = dict(rtol=1e-4, atol=1e-5) if device == "cpu" else dict(rtol=1e-2, atol=5e-3)
    for layer in LAYERS:
        for pooling in POOLINGS:
            out = embedder.set_params(layer=layer, pooling=pooling).transform(waveforms)
            assert len(out) == 2 and out[0].dtype == np.float32
            for features, hidden_states in zip(out, references):
                expected = expected_features(hidden_states, layer, pooling)
                np.testing.assert_allclose(features, expected, **tolerance, err_msg=f"{layer=}, {pooling=}")
                assert features.shape[-1] == embedder.n_features_out_


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("arch", [*ARCHS, "wavlm-group-norm"])
def test_padding_never_changes_an_embedding(folders, arch, device):
    rng = np.random.default_rng(1)
    short, long, same_length = (0.1 * rng.standard_normal(n).astype(np.float32) for n in (3000, 9000, 3000))
    embedder = SpeechEmbedder(model=folders[arch], device=device, pooling=None).fit([short])
    sizes = forward_batch_sizes(embedder)
    tolerance = dict(rtol=1e-5, atol=1e-5) if device == "cpu" else dict(rtol=1e-2, atol=5e-3)
    for pooling in (None, "mean+std"):
        embedder.set_params(pooling=pooling)
        alone = embedder.transform([short])[0]
        np.testing.assert_allclose(embedder.transform([long, short])[1], alone, **tolerance)
        np.testing.assert_allclose(embedder.transform([short, same_length])[0], alone, **tolerance)
    pads_safely = arch in ("wavlm", "whisper")  # an attention mask, or Whisper's fixed 30 s input
    assert sizes == 2 * ([1] + ([2] if pads_safely else [1, 1]) + [2])


def test_input_normalisation_follows_the_feature_extractor(folders, waveforms):
    louder = [3 * y for y in waveforms]
    normalised = SpeechEmbedder(model=folders["wav2vec2"], device="cpu").fit(waveforms)  # do_normalize=True
    np.testing.assert_allclose(normalised.transform(louder), normalised.transform(waveforms), rtol=1e-4, atol=1e-5)
    raw = SpeechEmbedder(model=folders["hubert"], device="cpu").fit(waveforms)  # do_normalize=False
    assert not np.allclose(raw.transform(louder), raw.transform(waveforms), rtol=1e-3)


def test_feature_names_and_pandas_output(folders, waveforms):
    embedder = SpeechEmbedder(model=folders["wavlm"], layer=[0, 2], pooling="mean+std", device="cpu").fit(waveforms)
    names = embedder.get_feature_names_out()
    assert len(names) == embedder.n_features_out_ == 64
    assert list(names[[0, 16, 32, 63]]) == [
        "wavlm_layer0_0_mean",
        "wavlm_layer2_0_mean",
        "wavlm_layer0_0_std",
        "wavlm_layer2_15_std",
    ]
    frame = clone(embedder).set_output(transform="pandas").fit_transform(waveforms)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(names)
    np.testing.assert_array_equal(frame.to_numpy(), embedder.transform(waveforms))
    per_frame = clone(embedder).set_params(layer=-1, pooling=None)
    with sklearn.config_context(transform_output="pandas"):
        sequences = per_frame.fit_transform(waveforms)
    assert isinstance(sequences, FeatureSequences)
    assert list(sequences.feature_names[[0, -1]]) == ["wavlm_layer2_0", "wavlm_layer2_15"]
    pooled = SequencePooling(stats=("mean", "std")).fit_transform(sequences)
    np.testing.assert_allclose(pooled[:, 16:], embedder.transform(waveforms)[:, 48:], rtol=1e-5, atol=1e-6)


def test_short_utterances_give_one_frame(folders):
    embedder = SpeechEmbedder(model=folders["wav2vec2"], pooling=None, device="cpu").fit([np.zeros(5, np.float32)])
    tiny = [np.full(n, 0.1, np.float32) for n in (1, RECEPTIVE_FIELD - 1, RECEPTIVE_FIELD)]
    assert [s.shape for s in embedder.transform(tiny)] == [(1, 16)] * 3


def test_a_group_norm_over_one_convolution_gets_two_frames(tmp_path):
    model, feature_extractor = tiny_model("wav2vec2")
    config = transformers.Wav2Vec2Config(
        **{**ENCODER, **CONVOLUTIONS, "conv_dim": (16,), "conv_kernel": (4,), "conv_stride": (2,)}
    )
    save(tmp_path, transformers.Wav2Vec2Model(config), feature_extractor)
    embedder = SpeechEmbedder(model=tmp_path, pooling=None, device="cpu").fit([np.zeros(1, np.float32)])
    assert [s.shape for s in embedder.transform([np.full(n, 0.1, np.float32) for n in (1, 4, 6)])] == [(2, 16)] * 3


def test_pipeline_from_paths_and_model_selection(folders, tmp_path):
    paths, labels = [], []
    for i, (freq, sr) in enumerate(
        [(200, 8000), (220, 22050), (240, 16000), (2000, 8000), (2200, 22050), (2400, 16000)]
    ):
        t = np.arange(int(0.4 * sr)) / sr
        paths.append(str(tmp_path / f"clip{i}.wav"))
        soundfile.write(paths[-1], 0.5 * np.sin(2 * np.pi * freq * t), sr)
        labels.append("low" if freq < 1000 else "high")
    embedder = SpeechEmbedder(model=folders["wavlm"], device="cpu")
    pipe = make_pipeline(embedder, LogisticRegression())
    pipe.fit(paths, labels)
    assert set(pipe.predict(paths)) <= {"low", "high"}
    decoded = [load_audio(path, sr=SR) for path in paths]  # files are resampled to the model's rate
    np.testing.assert_array_equal(pipe[0].transform(paths), pipe[0].transform(decoded))
    threads = clone(embedder).set_params(n_jobs=2, backend="threads").fit(paths)
    np.testing.assert_array_equal(threads.transform(paths), pipe[0].transform(paths))
    assert clone(pipe).get_params()["speechembedder__model"] == folders["wavlm"]
    assert len(cross_val_score(pipe, paths, labels, cv=3)) == 3


@pytest.mark.parametrize("arch", ARCHS)
def test_the_computer_pickles_for_worker_processes(folders, waveforms, arch):
    embedder = SpeechEmbedder(model=folders[arch], pooling=None, device="cpu").fit(waveforms)
    computer = embedder._make_computer()
    copy = pickle.loads(pickle.dumps(computer))
    assert copy.encoder is not computer.encoder
    for ours, theirs in zip(copy.batch(waveforms), computer.batch(waveforms)):
        np.testing.assert_array_equal(ours, theirs)


def test_worker_processes_compute_the_same_features(folders):
    rng = np.random.default_rng(2)
    utterances = [0.1 * rng.standard_normal(2000 + 100 * i).astype(np.float32) for i in range(20)]  # two chunks
    embedder = SpeechEmbedder(model=folders["wavlm"], device="cpu").fit(utterances)
    in_processes = clone(embedder).set_params(n_jobs=2, backend="processes").fit(utterances)
    np.testing.assert_array_equal(in_processes.transform(utterances), embedder.transform(utterances))


def test_joblib_round_trip_in_a_fresh_process(folders, waveforms, tmp_path):
    folder = shutil.copytree(folders["wav2vec2"], tmp_path / "model")
    with_weights = SpeechEmbedder(model=folder, device="cpu").fit(waveforms)
    without_weights = clone(with_weights).set_params(pickle_weights=False).fit(waveforms)
    expected = with_weights.transform(waveforms)
    joblib.dump(with_weights, tmp_path / "with.joblib")
    joblib.dump(without_weights, tmp_path / "without.joblib")
    n_weight_bytes = sum(t.numel() * t.element_size() for t in with_weights.model_.state_dict().values())
    size_with, size_without = ((tmp_path / f"{kind}.joblib").stat().st_size for kind in ("with", "without"))
    assert size_with > n_weight_bytes > size_without
    np.save(tmp_path / "x.npy", np.stack([waveforms[0][:5000], waveforms[1]]))
    script = textwrap.dedent(
        f"""
        import shutil, joblib, numpy as np, torch
        torch.set_num_threads(1)
        x = np.load({str(tmp_path / "x.npy")!r})
        reloaded = joblib.load({str(tmp_path / "without.joblib")!r}).transform(x)  # loads the folder again
        shutil.rmtree({str(folder)!r})
        embedder = joblib.load({str(tmp_path / "with.joblib")!r})  # needs no folder
        assert str(embedder.device_) == "cpu", embedder.device_
        np.save({str(tmp_path / "out.npy")!r}, np.stack([reloaded, embedder.transform(x)]))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    out = np.load(tmp_path / "out.npy")
    reference = with_weights.transform([waveforms[0][:5000], waveforms[1]])
    np.testing.assert_array_equal(out[0], reference)
    np.testing.assert_array_equal(out[1], reference)
    assert not folder.exists()
    save(folder, *tiny_model("wav2vec2", seed=2))  # another model in the fitted one's place
    with pytest.raises(ValueError, match="is not the model this embedder was fitted with"):
        joblib.load(tmp_path / "without.joblib").transform(waveforms)
    np.testing.assert_array_equal(joblib.load(tmp_path / "with.joblib").transform(waveforms), expected)


def test_pickled_on_a_gpu_loads_on_the_cpu(folders, waveforms, monkeypatch):
    fitted = SpeechEmbedder(model=folders["wavlm"], device="cpu").fit(waveforms)
    expected = fitted.transform(waveforms)
    state = fitted.__getstate__()
    assert "model_" not in state and "model_" in vars(fitted)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device, warns in (("auto", False), ("cuda", True)):
        loaded = SpeechEmbedder.__new__(SpeechEmbedder)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded.__setstate__(dict(state, device=device, device_="cuda:0"))
        assert [str(w.message) for w in caught if "CUDA" in str(w.message)] == (
            [f"device={device!r} but CUDA is not available: loading on the CPU."] if warns else []
        )
        assert loaded.device_ == torch.device("cpu") and loaded.model_.device == torch.device("cpu")
        np.testing.assert_array_equal(loaded.transform(waveforms), expected)


def test_the_cache_knows_a_model_by_its_config_and_weights(folders, waveforms, tmp_path):
    cache = tmp_path / "cache"

    def embed(folder, **params):
        embedder = SpeechEmbedder(model=folder, device="cpu", memory=cache, **params).fit(waveforms)
        sizes = forward_batch_sizes(embedder)
        return embedder.transform(waveforms), sum(sizes)

    first, computed = embed(folders["wav2vec2"])
    assert computed == 2
    again, computed = embed(folders["wav2vec2"], batch_size=1, whisper_input="padded")
    assert computed == 0
    np.testing.assert_array_equal(again, first)
    assert embed(folders["wav2vec2"], max_duration=0.4)[1] == 3  # the 0.5 s utterance is cut in two
    elsewhere = shutil.copytree(folders["wav2vec2"], tmp_path / "copy")
    assert embed(elsewhere)[1] == 0  # the same model in another folder
    other, computed = embed(folders["wav2vec2-other-weights"])  # the same config, other weights
    assert computed == 2 and not np.allclose(other, first)
    assert embed(folders["wav2vec2"], layer=2)[1] == 2
    assert embed(folders["wav2vec2"], layer=-1)[1] == 0  # the same hidden state as layer=2
    assert embed(folders["wav2vec2"], pooling="mean+std")[1] == 2
    assert len(list((cache / "sklearn_ser_features").glob("SpeechEmbedder-*"))) == 5
    trimmed, computed = embed(folders["whisper"])
    assert computed == 2 and embed(folders["whisper"])[1] == 0
    padded, computed = embed(folders["whisper"], whisper_input="padded")
    assert computed == 2 and not np.allclose(padded, trimmed)


def test_a_missing_model_is_named_with_how_to_get_it(folders, waveforms, tmp_path):
    with pytest.raises(OSError) as info:
        SpeechEmbedder(model="nobody/no-such-model").fit(waveforms)
    message = str(info.value)
    assert "model='nobody/no-such-model' is neither a local folder nor a model in the Hugging Face cache" in message
    assert "`sklearn-ser fetch-model nobody/no-such-model`" in message
    assert "fetch_speech_model('nobody/no-such-model')" in message and "'best-offline' needs none" in message
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match=r"model='.*empty' is a folder with no model saved by save_pretrained"):
        SpeechEmbedder(model=str(tmp_path / "empty")).fit(waveforms)
    model_only = tmp_path / "model-only"
    tiny_model("hubert")[0].save_pretrained(model_only)
    with pytest.raises(OSError, match=r"model-only' is a folder with no feature extractor"):
        SpeechEmbedder(model=model_only).fit(waveforms)
    text_model = tmp_path / "bert"
    transformers.BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2).save_pretrained(text_model)
    with pytest.raises(ValueError, match=r"is a 'bert' model; SpeechEmbedder runs the encoders of wav2vec2, hubert"):
        SpeechEmbedder(model=text_model).fit(waveforms)


@pytest.mark.parametrize("layer", [3, -4, [0, 3]])
def test_a_layer_out_of_range_names_the_number_of_layers(folders, waveforms, layer):
    match = r"layer=.* is out of range: model=.* has 2 layers, so layer takes hidden states 0 .* to 2"
    with pytest.raises(ValueError, match=match):
        SpeechEmbedder(model=folders["hubert"], layer=layer).fit(waveforms)
    fitted = SpeechEmbedder(model=folders["hubert"], device="cpu").fit(waveforms)
    with pytest.raises(ValueError, match=match):
        fitted.set_params(layer=layer).transform(waveforms)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(layer="last"), InvalidParameterError, "'layer' parameter"),
        (dict(layer=[]), ValueError, r"layer=\[\] must be an int, a non-empty list of ints or 'mean'"),
        (dict(layer=[1.5]), ValueError, r"layer=\[1.5\] must be"),
        (dict(layer=True), ValueError, "layer=True must be"),
        (dict(pooling="max"), InvalidParameterError, "'pooling' parameter"),
        (dict(max_duration=0), InvalidParameterError, "'max_duration' parameter"),
        (dict(batch_size=0), InvalidParameterError, "'batch_size' parameter"),
        (dict(model=3), InvalidParameterError, "'model' parameter"),
        (dict(device="gpu"), ValueError, "device='gpu' is not a torch device"),
    ],
)
def test_invalid_parameters(folders, waveforms, params, error, match):
    with pytest.raises(error, match=match):
        SpeechEmbedder(**{"model": folders["hubert"], **params}).fit(waveforms)


@pytest.mark.parametrize("arch", ["wav2vec2", "whisper"])
def test_long_utterances_are_embedded_in_equal_pieces(folders, arch):
    rng = np.random.default_rng(3)
    # Whisper pieces of at most 30 s; for wav2vec2, 0.4 s: 3 pieces of 6000 samples.
    max_duration, n = (30.0, 31 * SR + 10) if arch == "whisper" else (0.4, 18000)
    long = (0.1 * rng.standard_normal(n)).astype(np.float32)
    embedder = SpeechEmbedder(model=folders[arch], max_duration=max_duration, pooling=None, device="cpu").fit([long])
    n_pieces = math.ceil(n / (max_duration * SR))
    bounds = np.linspace(0, n, n_pieces + 1).round().astype(int)
    pieces = [long[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]
    expected = np.concatenate(embedder.transform(pieces))
    np.testing.assert_allclose(embedder.transform([long])[0], expected, rtol=1e-5, atol=1e-5)
    pooled = embedder.set_params(pooling="mean+std").transform([long])[0]
    np.testing.assert_allclose(pooled, expected_features([expected], 0, "mean+std"), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"max_duration=31 exceeds the 30 s windows of Whisper's encoder"):
        SpeechEmbedder(model=folders["whisper"], max_duration=31).fit([long])


def test_unfitted_and_missing_transformers(folders, waveforms, monkeypatch):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SpeechEmbedder(model=folders["wav2vec2"]).transform(waveforms)
    with pytest.raises(NotFittedError):
        SpeechEmbedder(model=folders["wav2vec2"]).get_feature_names_out()
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ImportError, match=r"pip install sklearn-ser\[speech\]"):
        SpeechEmbedder(model=folders["wav2vec2"]).fit(waveforms)


def test_importing_the_features_does_not_import_transformers():
    probe = "import sys, sklearn_ser.features; print('transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def trimmed_whisper_reference(folder, y):
    """transformers' own WhisperEncoder.forward on the log-Mel frames of ``y`` alone.

    An encoder whose window is cut to the audio's frames (``max_source_positions``
    and the positional embeddings) takes them; ``y`` must give an even
    number of log-Mel frames, so that no padding frame is needed.
    """
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    full = transformers.AutoModel.from_pretrained(folder).encoder
    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    n_mel = math.ceil(len(y) / extractor.hop_length)
    assert n_mel % 2 == 0
    config = transformers.WhisperConfig.from_dict({**full.config.to_dict(), "max_source_positions": n_mel // 2})
    state = full.state_dict()
    state["embed_positions.weight"] = state["embed_positions.weight"][: n_mel // 2]
    cut = WhisperEncoder(config).eval()
    cut.load_state_dict(state)
    mel = extractor(y, sampling_rate=SR, return_tensors="pt")["input_features"][:, :, :n_mel]
    with torch.inference_mode():
        return [h[0].numpy() for h in cut(mel, output_hidden_states=True).hidden_states]


def test_trimmed_whisper_is_the_encoder_cut_to_the_audio(folders, waveforms):
    embedder = SpeechEmbedder(model=folders["whisper"], device="cpu").fit(waveforms)
    assert embedder.whisper_input == "trimmed"
    references = [trimmed_whisper_reference(folders["whisper"], y) for y in waveforms]
    for layer in LAYERS:
        for pooling in POOLINGS:
            out = embedder.set_params(layer=layer, pooling=pooling).transform(waveforms)
            for features, hidden_states in zip(out, references):
                expected = expected_features(hidden_states, layer, pooling)
                np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-5, err_msg=f"{layer=}, {pooling=}")


def test_trimmed_and_padded_whisper_keep_the_same_frames(folders):
    rng = np.random.default_rng(4)
    utterances = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (1, 159, 160, 161, 5000, 40000)]
    trimmed = SpeechEmbedder(model=folders["whisper"], pooling=None, device="cpu").fit(utterances)
    padded = clone(trimmed).set_params(whisper_input="padded").fit(utterances)
    for layer in LAYERS:
        shapes = [[x.shape for x in e.set_params(layer=layer).transform(utterances)] for e in (trimmed, padded)]
        assert shapes[0] == shapes[1] == [(math.ceil(len(y) / 320), trimmed.n_features_out_) for y in utterances]
    # The first hidden state of a frame depends on its neighbours only: equal away from the end.
    first = [e.set_params(layer=0).transform(utterances[-1:])[0] for e in (trimmed, padded)]
    np.testing.assert_allclose(first[0][:-2], first[1][:-2], rtol=1e-5, atol=1e-5)


def test_whisper_loads_its_encoder_alone(folders, waveforms):
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    embedder = SpeechEmbedder(model=folders["whisper"], device="cpu").fit(waveforms)
    assert type(embedder.model_) is WhisperEncoder
    full = transformers.AutoModel.from_pretrained(folders["whisper"])
    expected = full.encoder.state_dict()
    loaded = embedder.model_.state_dict()
    assert list(loaded) == list(expected)
    for name in expected:
        torch.testing.assert_close(loaded[name], expected[name], rtol=0, atol=0)
    again = SpeechEmbedder(model=folders["whisper"], device="cpu").fit(waveforms)
    assert again.model_fingerprint_ == embedder.model_fingerprint_


@pytest.mark.parametrize("damage", ["truncated", "garbage", "no-encoder"])
def test_damaged_whisper_weights_name_the_file(folders, waveforms, tmp_path, damage):
    folder = shutil.copytree(folders["whisper"], tmp_path / "whisper")
    weights = folder / "model.safetensors"
    if damage == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage":
        weights.write_bytes(b"not a safetensors file")
    else:
        from safetensors.torch import save_file

        save_file({"decoder.layer_norm.weight": torch.ones(16)}, weights)
    match = r"model=.*whisper'.*" + ("holds no Whisper encoder weight" if damage == "no-encoder" else "cannot be read")
    with pytest.raises(OSError, match=match) as info:
        SpeechEmbedder(model=folder).fit(waveforms)
    assert "model.safetensors" in str(info.value)


@pytest.mark.parametrize("arch", ["wavlm", "whisper"])
def test_half_precision_is_close_to_float32(folders, arch):
    rng = np.random.default_rng(5)
    utterances = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (3000, 9000)]  # padded and masked
    embedder = SpeechEmbedder(model=folders[arch], pooling="mean+std", device="cpu").fit(utterances)
    full = embedder.transform(utterances)
    half = embedder.set_params(precision="bfloat16").transform(utterances)
    assert half.dtype == np.float32 and not np.array_equal(half, full)
    np.testing.assert_allclose(half, full, rtol=0.1, atol=0.05)
    assert embedder._cache_params()["precision"] == "bfloat16"


def test_fetching_a_model_offline_names_it(tmp_path):
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    command = [sys.executable, "-m", "sklearn_ser.cli", "fetch-model", "nobody/no-such-model"]
    run = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert run.returncode == 1
    assert run.stderr.startswith(
        "sklearn-ser: error: model='nobody/no-such-model' could not be downloaded from the Hugging Face Hub:"
    )
    assert "Traceback" not in run.stderr


def test_trimmed_whisper_runs_no_layer_past_the_last_one_used(folders, waveforms):
    embedder = SpeechEmbedder(model=folders["whisper"], device="cpu").fit(waveforms)
    calls = [0] * len(embedder.model_.layers)
    for index, layer in enumerate(embedder.model_.layers):
        layer.register_forward_pre_hook(lambda module, args, index=index: calls.__setitem__(index, calls[index] + 1))
    expected = embedder.set_params(layer=1).transform(waveforms)
    assert calls == [1, 0]  # one batch through the first layer only
    np.testing.assert_allclose(expected, embedder.set_params(layer=[1, 2]).transform(waveforms)[:, :16], rtol=1e-5)
    assert calls == [2, 1]
