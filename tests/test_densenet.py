import pickle
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
import torchvision
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_ser._device import resolve_device
from sklearn_ser.features import DeltaStack, DenseNetEmbedder, FeatureSequences, MelSpectrogram, SequencePooling
from sklearn_ser.features._densenet import _segment_images

from .conftest import tone

N_MELS = 32
SMALL = dict(weights=None, segment_frames=32, segment_hop=16, random_state=0, device="cpu")
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)[:, None, None]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # The images are tiny: one thread is as fast, and does not stall when
    # other processes keep the cores busy.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def sequences():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((n, 3 * N_MELS)).astype(np.float32) for n in (20, 32, 80, 100)]


@pytest.fixture(scope="module")
def fitted(sequences):
    return DenseNetEmbedder(**SMALL).fit(sequences)


@pytest.fixture(scope="module")
def densenet121():
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return torchvision.models.densenet121(weights=None).eval()


def reference_embedding(features, segment):
    """Embedding of one (segment_frames, 3 * n_mels) segment, as documented."""
    image = segment.T.reshape(3, N_MELS, len(segment))
    low, high = image.min(axis=(1, 2), keepdims=True), image.max(axis=(1, 2), keepdims=True)
    image = ((image - low) / (high - low) - MEAN) / STD
    with torch.no_grad():
        maps = torch.relu(features(torch.from_numpy(image[None].astype(np.float32))))
    return maps.mean(dim=(2, 3))[0].numpy()


def test_shapes_for_both_poolings(sequences, fitted):
    pooled = fitted.transform(sequences)
    assert pooled.shape == (4, 1024) and pooled.dtype == np.float32
    assert fitted.embedding_dim_ == 1024 and fitted.n_features_in_ == 96
    per_segment = clone(fitted).set_params(pooling=None).fit(sequences).transform(sequences)
    assert isinstance(per_segment, FeatureSequences)
    # 20 frames: padded to one segment; otherwise 1 + (n_frames - 32) // 16
    assert [s.shape for s in per_segment] == [(1, 1024), (1, 1024), (4, 1024), (5, 1024)]
    assert all(s.dtype == np.float32 for s in per_segment)
    assert list(per_segment.feature_names[[0, -1]]) == ["densenet121_0", "densenet121_1023"]
    np.testing.assert_allclose(pooled, [s.mean(axis=0) for s in per_segment], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(fitted.transform(np.stack([sequences[2], sequences[2]]))[1], pooled[2])


def test_images_channels_time_and_padding():
    frames, features = np.meshgrid(np.arange(10), np.arange(3 * 4), indexing="ij")
    sequence = (100 * frames + features).astype(np.float32)  # value = 100 * frame + feature
    images = _segment_images(sequence, 4, 4, 3)
    assert images.shape == (3, 3, 4, 4)  # starts 0, 3, 6; frames 9 is left out
    for k, start in enumerate((0, 3, 6)):
        for c in range(3):
            expected = 100 * (start + np.arange(4))[None, :] + (4 * c + np.arange(4))[:, None]
            np.testing.assert_array_equal(images[k, c], expected)
    (padded,) = _segment_images(sequence[:3], 4, 8, 4)
    np.testing.assert_array_equal(padded[0, 0], 100 * np.array([0, 1, 2, 0, 1, 2, 0, 1]))


def test_embeddings_follow_the_documented_preprocessing(tmp_path, densenet121):
    path = tmp_path / "densenet121.pt"
    torch.save(densenet121.state_dict(), path)
    rng = np.random.default_rng(1)
    long, short = rng.standard_normal((70, 96)).astype(np.float32), rng.standard_normal((12, 96)).astype(np.float32)
    embedder = DenseNetEmbedder(weights=path, pooling=None, segment_frames=32, segment_hop=32).fit([long])
    out_long, out_short = embedder.transform([long, short])
    assert out_long.shape == (2, 1024) and out_short.shape == (1, 1024)
    # CUDA convolutions use TF32 by default: about 1e-3 from the CPU reference
    tolerance = dict(rtol=1e-4, atol=1e-5) if embedder.device_.type == "cpu" else dict(rtol=1e-2, atol=5e-3)
    for k, start in enumerate((0, 32)):
        expected = reference_embedding(densenet121.features, long[start : start + 32])
        np.testing.assert_allclose(out_long[k], expected, **tolerance)
    tiled = short[np.arange(32) % 12]
    np.testing.assert_allclose(out_short[0], reference_embedding(densenet121.features, tiled), **tolerance)
    # the same weights from a str path; the classifier is not part of the embedding network
    embedder = DenseNetEmbedder(weights=str(path), segment_frames=32).fit([long])
    for key, value in densenet121.features.state_dict().items():
        torch.testing.assert_close(embedder.model_.state_dict()[f"features.{key}"].cpu(), value, rtol=0, atol=0)
    assert not any(key.startswith("classifier") for key in embedder.model_.state_dict())


def test_constant_channel_and_resizing(sequences):
    constant = np.ones((40, 96), dtype=np.float32)
    out = DenseNetEmbedder(**SMALL).fit(sequences).transform([constant])
    assert np.isfinite(out).all()
    small = [s[:, : 3 * 16] for s in sequences]  # n_mels=16: too few rows for DenseNet
    with pytest.raises(ValueError, match=r"16 x 32 \(n_mels=16 x segment_frames=32\).*set image_size"):
        DenseNetEmbedder(**SMALL).fit(small)
    with pytest.raises(ValueError, match=r"'image_size' parameter .* range \[29, inf\)"):
        DenseNetEmbedder(**SMALL, image_size=16).fit(sequences)
    resized = DenseNetEmbedder(**SMALL, image_size=32).fit(small)
    assert resized.transform(small).shape == (4, 1024)


def test_features_must_come_in_threes():
    with pytest.raises(ValueError, match=r"DeltaStack\(order=2\).*got 100 features per frame.*not divisible by 3"):
        DenseNetEmbedder(**SMALL).fit([np.zeros((40, 100), dtype=np.float32)])


def test_unfitted_and_wrong_feature_count(sequences, fitted):
    with pytest.raises(NotFittedError):
        DenseNetEmbedder(**SMALL).transform(sequences)
    with pytest.raises(ValueError, match=r"X\[0\] has 99 features per frame, expected 96"):
        fitted.transform([np.zeros((40, 99), dtype=np.float32)])


def test_imagenet_weights_are_requested_from_torchvision(monkeypatch, sequences, densenet121):
    requested = []
    legacy = {}  # like the published checkpoints: old "norm.1" key names, no num_batches_tracked
    for key, value in densenet121.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            legacy[key.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2.")] = value
    assert any(".norm.1." in key for key in legacy) and any(".conv.2." in key for key in legacy)

    def fake_get_state_dict(self, *args, **kwargs):
        requested.append(self)
        return dict(legacy)

    monkeypatch.setattr(torchvision.models.DenseNet121_Weights, "get_state_dict", fake_get_state_dict)
    embedder = DenseNetEmbedder(segment_frames=32).fit(sequences)
    assert requested == [torchvision.models.DenseNet121_Weights.IMAGENET1K_V1]
    assert embedder.weights == "imagenet"
    for key, value in densenet121.features.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(embedder.model_.state_dict()[f"features.{key}"].cpu(), value, rtol=0, atol=0)


def test_weights_file_errors(tmp_path, sequences, densenet121):
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        DenseNetEmbedder(weights=missing, segment_frames=32).fit(sequences)
    with pytest.raises(FileNotFoundError, match="imagenet1k"):
        DenseNetEmbedder(weights="imagenet1k", segment_frames=32).fit(sequences)
    path = tmp_path / "densenet121.pt"
    torch.save(densenet121.state_dict(), path)
    with pytest.raises(ValueError, match=r"densenet121.pt.*not a state dict of torchvision's densenet169"):
        DenseNetEmbedder(arch="densenet169", weights=path, segment_frames=32).fit(sequences)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(ValueError, match=r"tensor.pt.*holds a Tensor"):
        DenseNetEmbedder(weights=tensor, segment_frames=32).fit(sequences)
    text = tmp_path / "notes.txt"
    text.write_text("not weights")
    with pytest.raises(ValueError, match=r"notes.txt.*could not be read"):
        DenseNetEmbedder(weights=text, segment_frames=32).fit(sequences)


def test_random_state_is_deterministic(sequences, fitted):
    rng_state = torch.random.get_rng_state()
    again = DenseNetEmbedder(**SMALL).fit(sequences)
    np.testing.assert_array_equal(again.transform(sequences), fitted.transform(sequences))
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    other = DenseNetEmbedder(**{**SMALL, "random_state": 1}).fit(sequences)
    assert not np.allclose(other.transform(sequences[:1]), fitted.transform(sequences[:1]))
    np.testing.assert_allclose(
        clone(fitted).set_params(batch_size=2).fit(sequences).transform(sequences),
        fitted.transform(sequences),
        rtol=1e-4,
        atol=1e-6,
    )


def test_clone_and_params(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_")
    assert DenseNetEmbedder().get_params() == {
        "arch": "densenet121",
        "weights": "imagenet",
        "pooling": "mean",
        "segment_frames": 64,
        "segment_hop": 32,
        "image_size": None,
        "batch_size": 64,
        "device": "auto",
        "random_state": None,
    }


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(arch="resnet50"), "'arch' parameter"),
        (dict(weights=3), "'weights' parameter"),
        (dict(pooling="max"), "'pooling' parameter"),
        (dict(segment_frames=0), "'segment_frames' parameter"),
        (dict(segment_hop=0), "'segment_hop' parameter"),
        (dict(image_size=0), "'image_size' parameter"),
        (dict(batch_size=0), "'batch_size' parameter"),
        (dict(device=0), "'device' parameter"),
        (dict(random_state="seed"), "'random_state' parameter"),
    ],
)
def test_invalid_params(params, match, sequences):
    with pytest.raises(InvalidParameterError, match=match):
        DenseNetEmbedder(**params).fit(sequences)


def test_devices(sequences, monkeypatch):
    embedder = DenseNetEmbedder(**SMALL).fit(sequences[:1])
    assert embedder.device_ == torch.device("cpu")
    assert {p.device for p in embedder.model_.parameters()} == {torch.device("cpu")}
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        DenseNetEmbedder(**{**SMALL, "device": "gpu"}).fit(sequences)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="device='cuda:1' but CUDA is not available"):
        DenseNetEmbedder(**{**SMALL, "device": "cuda:1"}).fit(sequences)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match=r"cuda:1.*only 1 CUDA device\(s\) are visible"):
        resolve_device("cuda:1")


def test_pickle_and_joblib_round_trip(tmp_path, sequences, fitted):
    expected = fitted.transform(sequences)
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.transform(sequences), expected)
    assert loaded.get_params() == fitted.get_params() and loaded.device_ == torch.device("cpu")
    joblib.dump(fitted, tmp_path / "embedder.joblib")
    (tmp_path / "embedder.pkl").write_bytes(pickle.dumps(fitted))
    np.savez(tmp_path / "x.npz", *sequences)
    script = textwrap.dedent(
        f"""
        import pickle, joblib, numpy as np, torch
        torch.set_num_threads(1)
        with np.load({str(tmp_path / "x.npz")!r}) as data:
            x = [data[f"arr_{{i}}"] for i in range(len(data.files))]
        a = joblib.load({str(tmp_path / "embedder.joblib")!r})
        with open({str(tmp_path / "embedder.pkl")!r}, "rb") as f:
            b = pickle.load(f)
        assert str(a.device_) == "cpu", a.device_
        np.save({str(tmp_path / "out.npy")!r}, np.stack([a.transform(x), b.transform(x)]))
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    out = np.load(tmp_path / "out.npy")
    np.testing.assert_array_equal(out[0], expected)
    np.testing.assert_array_equal(out[1], expected)


def test_pickled_on_a_gpu_loads_on_the_cpu(sequences, fitted, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    expected = fitted.transform(sequences)
    state = fitted.__getstate__()
    assert "model_" not in state and all(isinstance(v, np.ndarray) for v in state["_model_state"].values())
    assert "model_" in vars(fitted)  # the fitted embedder is untouched
    for device, warns in (("auto", False), ("cuda", True), ("cuda:1", True)):
        gpu_state = dict(state, device=device, device_="cuda:0" if device == "auto" else device)
        loaded = DenseNetEmbedder.__new__(DenseNetEmbedder)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded.__setstate__(gpu_state)
        assert [str(w.message) for w in caught if "CUDA" in str(w.message)] == (
            [f"device={device!r} but CUDA is not available: loading on the CPU."] if warns else []
        )
        assert loaded.device_ == torch.device("cpu") and loaded.device == device
        np.testing.assert_array_equal(loaded.transform(sequences), expected)


def test_pandas_output(sequences, fitted):
    frame = clone(fitted).set_output(transform="pandas").fit_transform(sequences)
    assert isinstance(frame, pd.DataFrame) and frame.shape == (4, 1024)
    assert list(frame.columns[:2]) == ["densenet121_0", "densenet121_1"]
    np.testing.assert_array_equal(frame.to_numpy(), fitted.transform(sequences))
    per_segment = clone(fitted).set_params(pooling=None)
    with sklearn.config_context(transform_output="pandas"):
        assert isinstance(fitted.transform(sequences), pd.DataFrame)
        out = per_segment.fit_transform(sequences)
        assert isinstance(out, FeatureSequences) and [len(s) for s in out] == [1, 1, 4, 5]
        out = per_segment.set_output(transform="pandas").transform(sequences)
        assert isinstance(out, FeatureSequences)
    pipe = make_pipeline(per_segment, SequencePooling(stats=("mean", "max"))).set_output(transform="pandas")
    pooled = pipe.fit_transform(sequences)
    assert isinstance(pooled, pd.DataFrame) and pooled.shape == (4, 2048)
    assert list(pooled.columns[[0, -1]]) == ["densenet121_0_mean", "densenet121_1023_max"]


def test_pipeline_from_waveforms():
    sr = 16000
    clips = [tone(sr, seconds=0.4, freq=freq, amplitude=amp) for freq in (300, 2000) for amp in (0.2, 0.4, 0.6)]
    y = np.repeat(["low", "high"], 3)
    pipe = Pipeline(
        [
            ("mel", MelSpectrogram(n_mels=N_MELS)),
            ("delta", DeltaStack()),
            ("densenet", DenseNetEmbedder(weights=None, segment_frames=32, random_state=0)),
            ("clf", LogisticRegression()),
        ]
    )
    pipe.fit(clips, y)
    assert pipe.named_steps["densenet"].feature_names_in_[-1] == f"mel_{N_MELS - 1}_delta2"
    assert pipe.predict(clips).shape == (6,)
    assert set(pipe.predict(clips)) <= {"low", "high"}


def test_larger_architectures():
    image = [np.random.default_rng(0).standard_normal((32, 96)).astype(np.float32)]
    for arch, dim in (("densenet169", 1664), ("densenet201", 1920)):
        embedder = DenseNetEmbedder(**{**SMALL, "arch": arch}).fit(image)
        assert embedder.embedding_dim_ == dim and embedder.transform(image).shape == (1, dim)
        assert embedder.get_feature_names_out()[-1] == f"{arch}_{dim - 1}"
