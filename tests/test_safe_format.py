"""The safe format: every recipe and public estimator round-trips; tampered files are refused and run no code."""

import io
import pathlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn_ser._predict import load_model
from sklearn_ser._safe_format import FORMAT, UnsafeFileError, load_safe, save_safe
from sklearn_ser._safe_format._trusted import OWN_PACKAGES, trusted_names
from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.recipes import get_recipe, list_recipes, recipe_options

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

# Tiny versions of every recipe (as in test_recipes): one epoch, a few units.
QUICK = {
    "paper-proposed": dict(max_epochs=1, lstm__hidden_size=8, lstm__head=(4,)),
    "paper-traditional": dict(max_epochs=1, lstm__hidden_size=8),
    "lstm-logmel": dict(max_epochs=1, lstm__hidden_size=4),
    "lstm-egemaps": dict(max_epochs=1, lstm__hidden_size=4),
    "lstm-mfcc": dict(max_epochs=1, lstm__hidden_size=4),
    "segment-lstm": dict(max_epochs=1, lstm__hidden_size=4),
    "lstm-best": dict(max_epochs=1, lstm__hidden_size=4),
    "crnn-logmel": dict(max_epochs=1, crnn__hidden_size=4, crnn__conv_channels=(4, 4)),
    "fusion": dict(max_epochs=1, cv=2, fusion__lstm__lstm__hidden_size=4, fusion__svm__svm__cv=2),
    "ssl-svm": dict(probability=True),
    "ssl-best": dict(),
    "ssl-lstm": dict(layer=1, max_epochs=1, lstm__hidden_size=4),
    "multiscale-lstm": dict(max_epochs=1, segment_frames=(64, 128), multiscale__estimator__hidden_size=4),
    "densenet-mfcc-fusion": dict(weights=None, max_epochs=2, features__densenet__densenet__segment_frames=32),
    "densenet-lstm": dict(weights=None, max_epochs=1, segment_frames=32, segment_hop=16, lstm__hidden_size=4),
    "svm-mfcc": dict(probability=True),
    "svm-egemaps": dict(probability=True),
    "svm-best": dict(probability=True),
    "best": dict(),
    "best-offline": dict(max_epochs=1, lstm__hidden_size=4),
}
NEEDS = {"opensmile": {"EGeMAPS", "EGeMAPSFrames"}, "transformers": {"SpeechEmbedder"}}


class WritesAMarkerWhenUnpickled:
    """Unpickling this calls ``Path.touch`` on the marker: code run by reading a file."""

    def __init__(self, marker):
        self.marker = pathlib.Path(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus")


@pytest.fixture(scope="module")
def corpus(corpus_root):
    return make_synthetic_corpus(corpus_root, n_speakers=2, n_words=2)


@pytest.fixture(scope="module")
def whisper(tiny_whisper_folder):
    return tiny_whisper_folder


def _classes_in(model):
    return {type(value).__name__ for value in model.get_params(deep=True).values()} | {type(model).__name__}


def _quick_recipe(name, whisper=None):
    steps = _classes_in(get_recipe(name))
    for package, classes in NEEDS.items():
        if steps & classes:
            pytest.importorskip(package)
    options = dict(QUICK[name])
    if "model" in recipe_options(name):
        options["model"] = str(whisper)
    if "random_state" in recipe_options(name):
        options["random_state"] = 0
    return get_recipe(name, **options)


@pytest.fixture(scope="module")
def svm_file(corpus, tmp_path_factory):
    fitted = _quick_recipe("svm-mfcc").fit(corpus["path"], corpus["label"])
    path = tmp_path_factory.mktemp("svm") / "svm.pt"
    save_safe(fitted, path)
    return fitted, path


@pytest.fixture(scope="module")
def lstm_file(corpus, tmp_path_factory):
    fitted = _quick_recipe("lstm-logmel").fit(corpus["path"], corpus["label"])
    path = tmp_path_factory.mktemp("lstm") / "lstm.pt"
    save_safe(fitted, path)
    return fitted, path


def test_every_recipe_is_exercised():
    assert sorted(QUICK) == list_recipes()


@pytest.mark.parametrize("name", list_recipes())
def test_every_recipe_round_trips_with_identical_probabilities(name, corpus, tmp_path, request):
    whisper = request.getfixturevalue("whisper") if "model" in recipe_options(name) else None
    fitted = _quick_recipe(name, whisper).fit(corpus["path"], corpus["label"])
    save_safe(fitted, tmp_path / "model.pt")
    loaded = load_safe(tmp_path / "model.pt")
    paths = list(corpus["path"][:4])
    assert type(loaded) is type(fitted) and loaded is not fitted
    np.testing.assert_array_equal(loaded.predict_proba(paths), fitted.predict_proba(paths))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)


def test_a_safe_file_holds_only_tensors_and_plain_values(lstm_file):
    content = torch.load(lstm_file[1], weights_only=True)
    assert content["format"] == FORMAT and content["version"] == 1
    assert content["model"]["class"] == "sklearn.pipeline:Pipeline"

    def leaves(node):
        if isinstance(node, dict):
            yield from (leaf for value in node.values() for leaf in leaves(value))
        elif isinstance(node, list):
            yield from (leaf for value in node for leaf in leaves(value))
        else:
            yield node

    assert {type(leaf) for leaf in leaves(content)} <= {torch.Tensor, str, int, float, bool, type(None)}


def test_a_safe_file_loads_in_a_fresh_process_through_load_model(lstm_file, corpus):
    fitted, path = lstm_file
    paths = list(corpus["path"][:3])
    code = (
        "import sys, numpy as np\n"
        "from sklearn_ser._predict import load_model\n"
        f"model = load_model({str(path)!r})\n"
        f"np.save(sys.stdout.buffer, model.predict_proba({paths!r}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    np.testing.assert_array_equal(np.load(io.BytesIO(run.stdout)), fitted.predict_proba(paths))


def _public_classes():
    import importlib

    found = {}
    for package in OWN_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, type) and issubclass(value, BaseEstimator):
                found[name] = value
    return found


# Public estimators that no recipe holds, each with a round trip of its own below.
OWN_TESTS = {"WaveformAugmenter", "AugmentedClassifier", "OptunaSearch"}


def test_every_public_estimator_is_covered():
    in_recipes = set().union(*(_classes_in(get_recipe(name)) for name in list_recipes()))
    assert set(_public_classes()) <= in_recipes | OWN_TESTS
    for cls in _public_classes().values():
        assert any(name.endswith(f":{cls.__name__}") for name in trusted_names()), cls


@pytest.mark.parametrize("arch", ["wav2vec2", "hubert", "wavlm"])
def test_speech_embedders_of_every_supported_encoder_round_trip(arch, tmp_path):
    transformers = pytest.importorskip("transformers")
    from sklearn_ser.features import SpeechEmbedder

    config = {"wav2vec2": transformers.Wav2Vec2Config, "hubert": transformers.HubertConfig}.get(
        arch, transformers.WavLMConfig
    )
    shape = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
    convolutions = dict(conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), num_conv_pos_embeddings=16)
    model = {"wav2vec2": transformers.Wav2Vec2Model, "hubert": transformers.HubertModel}.get(
        arch, transformers.WavLMModel
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model(config(**shape, **convolutions, num_conv_pos_embedding_groups=2)).save_pretrained(tmp_path / arch)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=False).save_pretrained(tmp_path / arch)
    waveforms = [np.sin(np.arange(n) / 7.0).astype("float32") for n in (800, 1200)]
    embedder = SpeechEmbedder(model=str(tmp_path / arch), layer="mean", pooling="mean+std").fit(waveforms)
    save_safe(embedder, tmp_path / "embedder.pt")
    np.testing.assert_array_equal(
        load_safe(tmp_path / "embedder.pt").transform(waveforms), embedder.transform(waveforms)
    )


def test_augmented_classifier_and_its_augmenter_round_trip(corpus, tmp_path):
    from sklearn_ser.augmentation import AugmentedClassifier, WaveformAugmenter

    model = AugmentedClassifier(
        get_recipe("svm-mfcc", probability=True, random_state=0), WaveformAugmenter(n_copies=1, random_state=0)
    ).fit(corpus["path"], corpus["label"])
    save_safe(model, tmp_path / "augmented.pt")
    loaded = load_safe(tmp_path / "augmented.pt")
    paths = list(corpus["path"][:4])
    np.testing.assert_array_equal(loaded.predict_proba(paths), model.predict_proba(paths))
    pd.testing.assert_frame_equal(loaded.augmenter_.augmentations_, model.augmenter_.augmentations_)


def test_a_search_is_refused_by_name_and_its_best_model_saved(corpus, tmp_path):
    pytest.importorskip("optuna")
    from sklearn.model_selection import LeaveOneGroupOut

    from sklearn_ser.model_selection import OptunaSearch

    def space(trial):
        return {"svm__C": trial.suggest_float("svm__C", 0.1, 10, log=True)}

    search = OptunaSearch(get_recipe("svm-mfcc"), space, n_trials=2, cv=LeaveOneGroupOut(), random_state=0)
    search.fit(corpus["path"], corpus["label"], groups=corpus["speaker"])
    with pytest.raises(TypeError, match=r"model\.search_space is a builtins\.function, .*a function is code"):
        save_safe(search, tmp_path / "search.pt")
    assert not (tmp_path / "search.pt").exists()
    save_safe(search.best_estimator_, tmp_path / "best.pt")
    paths = list(corpus["path"][:4])
    np.testing.assert_array_equal(load_safe(tmp_path / "best.pt").predict(paths), search.predict(paths))


def test_splitters_and_plain_values_round_trip(tmp_path):
    from sklearn_ser.model_selection import CrossCorpusSplit, SpeakerTextSplit

    value = {
        "splitters": (SpeakerTextSplit(n_text_splits=3), CrossCorpusSplit(pairs=[("a", "b")])),
        7: [np.float32(1.5), np.arange(6, dtype=">i4").reshape(2, 3), np.array(["x", None], dtype=object)],
        "path": pathlib.Path("a/b"),
        "set": {1, 2},
        "random": np.random.RandomState(3),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }
    model = make_pipeline(StandardScaler(), SVC()).fit([[0.0, 1], [1, 0], [0, 0.9], [1, 0.1]], [0, 1, 0, 1])
    model.sklearn_ser_extra_ = value
    save_safe(model, tmp_path / "model.pt")
    back = load_safe(tmp_path / "model.pt").sklearn_ser_extra_
    assert repr(back["splitters"]) == repr(value["splitters"])
    assert back[7][0] == np.float32(1.5) and type(back[7][0]) is np.float32
    np.testing.assert_array_equal(back[7][1], value[7][1])
    assert back[7][1].dtype == np.dtype(">i4") and back[7][2].tolist() == ["x", None]
    assert back["fortran"].flags.f_contiguous and not back["fortran"].flags.c_contiguous
    np.testing.assert_array_equal(back["fortran"], value["fortran"])
    assert back["path"] == pathlib.Path("a/b") and back["set"] == {1, 2}
    assert back["random"].randint(1000) == np.random.RandomState(3).randint(1000)


def test_scikit_learn_steps_beyond_the_recipes_round_trip(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.decomposition import PCA
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = np.random.default_rng(0).normal(size=(20, 4)), [0, 1] * 10
    columns = ColumnTransformer([("scale", StandardScaler(), [0, 1])], remainder="passthrough")
    voting = VotingClassifier([("svm", SVC()), ("logreg", LogisticRegression())], voting="hard")
    for model in [make_pipeline(columns, LogisticRegression()), voting, make_pipeline(PCA(2), SVC())]:
        model.fit(X, y)
        save_safe(model, tmp_path / "model.pt")
        loaded = load_safe(tmp_path / "model.pt")
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        if hasattr(model, "steps"):
            np.testing.assert_array_equal(loaded[:-1].transform(X), model[:-1].transform(X))


def test_what_pickle_shares_the_file_shares(tmp_path):
    from sklearn.neural_network import MLPClassifier

    X, y = np.random.default_rng(0).normal(size=(20, 3)), [0, 1] * 10
    model = MLPClassifier(hidden_layer_sizes=(4,), max_iter=5, random_state=0).fit(X, y)
    model.sklearn_ser_twice_ = [model.coefs_[0], model.coefs_[0]]
    save_safe(model, tmp_path / "model.pt")
    loaded = load_safe(tmp_path / "model.pt")
    assert loaded.sklearn_ser_twice_[0] is loaded.sklearn_ser_twice_[1] is loaded.coefs_[0]

    model.sklearn_ser_itself_ = model
    with pytest.raises(TypeError, match=r"model\.sklearn_ser_itself_ holds an object that holds it \(a cycle\)"):
        save_safe(model, tmp_path / "cycle.pt")

    def refer_to_nothing(content):
        content["model"]["state"]["sklearn_ser_twice_"][1] = {"kind": "ref", "id": 10**6}

    with pytest.raises(UnsafeFileError, match=r"sklearn_ser_twice_\[1\] refers to the object 1000000, which the file"):
        load_safe(_tampered(tmp_path / "model.pt", tmp_path, refer_to_nothing))


def test_what_cannot_be_expressed_is_refused_at_save_time_by_name(tmp_path):
    from sklearn.preprocessing import FunctionTransformer

    with pytest.raises(TypeError, match=r"model\.steps\[0\]\[1\]\.func is a numpy\.ufunc, .*a function is code"):
        save_safe(make_pipeline(FunctionTransformer(np.log1p), SVC()), tmp_path / "model.pt")
    model = StandardScaler().fit([[0.0], [1.0]])
    model.network_ = torch.nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"model\.network_ is a torch\.nn\..*Linear.*a torch module; an estimator"):
        save_safe(model, tmp_path / "model.pt")
    model.network_ = len
    with pytest.raises(TypeError, match=r"model\.network_ is a builtins\.builtin_function_or_method.*is code"):
        save_safe(model, tmp_path / "model.pt")
    assert not (tmp_path / "model.pt").exists()


def _tampered(path, tmp_path, change):
    content = torch.load(path, weights_only=True)
    change(content)
    tampered = tmp_path / "tampered.pt"
    torch.save(content, tampered)
    return tampered


def _step(content, index):
    """The node of a pipeline's step ``index``: ``steps`` is a list of ``(name, step)`` tuple nodes."""
    return content["model"]["params"]["steps"][index]["items"][1]


def test_a_pickle_payload_is_refused_and_runs_no_code(tmp_path, capsys):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.pt"
    torch.save({"format": FORMAT, "version": 1, "model": WritesAMarkerWhenUnpickled(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(UnsafeFileError, match=r"Cannot read '.*evil.pt' as a safe-format model: reading it would need"):
        load_safe(evil)
    with pytest.raises(UnsafeFileError, match="evil.pt"):
        load_model(evil)
    assert main(["predict", str(evil), str(tmp_path)]) == 1
    assert "reading it would need more than tensors and plain values" in capsys.readouterr().err
    assert not marker.exists()


def test_an_untrusted_class_is_refused_before_anything_is_imported(svm_file, tmp_path, monkeypatch):
    marker = tmp_path / "imported"
    (tmp_path / "evil_module.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\nclass Step:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ["evil_module:Step", "builtins:eval", "os:system", "subprocess:Popen"]:

        def rename(content, name=name):
            _step(content, 1)["class"] = name

        with pytest.raises(UnsafeFileError, match=rf"is refused: .*the class '{name}' is not among the trusted"):
            load_safe(_tampered(svm_file[1], tmp_path, rename))
    assert not marker.exists() and "evil_module" not in sys.modules


def test_wrong_shapes_are_refused(svm_file, lstm_file, tmp_path):
    def widen_scaler_mean(content):
        scale = _step(content, 3)
        assert scale["class"] == "sklearn.preprocessing:StandardScaler"
        scale["state"]["mean_"]["data"] = torch.zeros(3, dtype=torch.float64)
        scale["state"]["mean_"]["shape"] = [3]

    with pytest.raises(UnsafeFileError, match=r"'mean_' has shape \(3,\) but n_features_in_ is 240"):
        load_safe(_tampered(svm_file[1], tmp_path, widen_scaler_mean))

    def data_unlike_its_shape(content):
        _step(content, 3)["state"]["mean_"]["data"] = torch.zeros(3, dtype=torch.float64)

    with pytest.raises(UnsafeFileError, match=r"mean_: the data has shape \(3,\), the array \(240,\)"):
        load_safe(_tampered(svm_file[1], tmp_path, data_unlike_its_shape))

    def grow_an_lstm_weight(content):
        module = _lstm_module(content)
        key = next(iter(module["keys"]))
        index = module["keys"].index(key)
        module["values"][index] = torch.zeros(tuple(n + 1 for n in module["values"][index].shape))

    with pytest.raises(
        UnsafeFileError, match=r"(?s)model\.steps\[3\]\[1\]: the fitted state does not fit .*size mismatch"
    ):
        load_safe(_tampered(lstm_file[1], tmp_path, grow_an_lstm_weight))


def _lstm_module(content):
    lstm = _step(content, 3)
    saved = lstm["state"]["_saved_net"]
    network = saved["values"][saved["keys"].index("network")]
    return network["values"][network["keys"].index("module")]


def test_missing_arrays_are_refused(svm_file, lstm_file, tmp_path):
    def drop_an_lstm_weight(content):
        module = _lstm_module(content)
        index = module["keys"].index("head.0.weight") if "head.0.weight" in module["keys"] else 0
        module["keys"].pop(index)
        module["values"].pop(index)

    with pytest.raises(UnsafeFileError, match=r"(?s)does not fit LSTMClassifier: .*Missing key.*head\.0\.weight"):
        load_safe(_tampered(lstm_file[1], tmp_path, drop_an_lstm_weight))

    def drop_the_data_of_an_array(content):
        del _step(content, 3)["state"]["mean_"]["data"]

    with pytest.raises(UnsafeFileError, match=r"model\.steps\[3\]\[1\]\.mean_ \(ndarray\) has the entries"):
        load_safe(_tampered(svm_file[1], tmp_path, drop_the_data_of_an_array))

    def drop_an_attribute(content):
        del _step(content, 3)["state"]["mean_"]

    with pytest.raises(UnsafeFileError, match=r"steps\[3\]\[1\] \(StandardScaler\) lacks the attribute 'mean_'"):
        load_safe(_tampered(svm_file[1], tmp_path, drop_an_attribute))


def test_another_format_version_or_file_is_refused(svm_file, tmp_path):
    with pytest.raises(UnsafeFileError, match=r"is in version 99 of the safe format; this sklearn-ser reads version 1"):
        load_safe(_tampered(svm_file[1], tmp_path, lambda content: content.update(version=99)))
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(UnsafeFileError, match="is not a safe-format model file"):
        load_safe(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(UnsafeFileError, match="text.pt"):
        load_safe(tmp_path / "text.pt")


def test_fit_format_safe_then_predict_and_timeline(corpus, corpus_root, tmp_path, capsys):
    spec = f"synthetic:{corpus_root}"
    out = tmp_path / "model.pt"
    args = [
        "fit",
        "--corpus",
        spec,
        "--recipe",
        "svm-mfcc",
        "--set",
        "probability=True",
        "--out",
        str(out),
        "--no-cache",
    ]
    assert main([*args, "--format", "safe", "--quiet"]) == 0
    assert out.read_bytes()[:4] == b"PK\x03\x04"
    assert main([*args, "--format", "safe", "--quiet"]) == 0  # replaces its own kind of file
    model = load_model(out)
    assert model.sklearn_ser_trained_on_["recipe"] == "svm-mfcc"
    capsys.readouterr()
    table = tmp_path / "predictions.csv"
    assert main(["predict", str(out), *corpus["path"][:3], "--out", str(table)]) == 0
    predicted = pd.read_csv(table)
    np.testing.assert_allclose(
        predicted[[f"prob_{label}" for label in model.classes_]].to_numpy(), model.predict_proba(corpus["path"][:3])
    )
    timeline = tmp_path / "timeline.csv"
    status = main(["timeline", str(out), corpus["path"][0], "--window", "1", "--hop", "0.5", "--out", str(timeline)])
    assert status == 0 and len(pd.read_csv(timeline)) >= 1


def test_serve_reads_a_safe_file(svm_file, corpus):
    pytest.importorskip("fastapi")
    pytest.importorskip("python_multipart")
    from fastapi.testclient import TestClient

    from sklearn_ser.serve import create_app

    fitted, path = svm_file
    with TestClient(create_app(str(path))) as client, open(corpus["path"][0], "rb") as audio:
        answer = client.post("/predict", files=[("files", ("clip.wav", audio.read(), "audio/wav"))])
    assert answer.status_code == 200
    assert answer.json()["predictions"][0]["label"] == fitted.predict(corpus["path"][:1])[0]


def test_a_weights_file_is_named_as_such_by_load_model(tmp_path):
    from sklearn_ser.models import LSTMClassifier
    from sklearn_ser.persistence import save_weights

    rng = np.random.default_rng(0)
    X = [rng.normal(size=(5, 2)).astype("float32") for _ in range(6)]
    save_weights(LSTMClassifier(hidden_size=2, max_epochs=1).fit(X, ["a", "b"] * 3), tmp_path / "weights.pt")
    with pytest.raises(ValueError, match="is a weights file of sklearn_ser.persistence.save_weights"):
        load_model(tmp_path / "weights.pt")


def test_the_format_name_is_the_file_kinds_magic():
    from sklearn_ser import _file_kinds

    assert _file_kinds._SAFE_MODEL_MAGIC == FORMAT.encode()
