import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.persistence import load_weights, save_weights
from sklearn_ser.recipes import get_recipe

SMALL = dict(max_epochs=2, random_state=0, lstm__hidden_size=8)


class RunsCodeWhenLoaded:
    def __reduce__(self):
        return (print, ("this ran while loading",))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), n_speakers=2, n_words=2)


@pytest.mark.parametrize("recipe", ["paper-proposed", "paper-traditional", "lstm-logmel"])
def test_a_loaded_pipeline_predicts_the_same_probabilities(recipe, corpus, tmp_path):
    fitted = get_recipe(recipe, **SMALL).fit(corpus["path"], corpus["label"])
    save_weights(fitted, tmp_path / "model.pt")
    loaded = load_weights(get_recipe(recipe, **SMALL, memory=tmp_path / "cache"), tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.predict_proba(corpus["path"]), fitted.predict_proba(corpus["path"]))
    np.testing.assert_array_equal(loaded.classes_, fitted.classes_)


def test_files_that_would_run_code_are_refused(tmp_path, capsys):
    torch.save({"format": "sklearn-ser-weights", "steps": RunsCodeWhenLoaded()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="evil.pt"):
        load_weights(get_recipe("paper-proposed"), tmp_path / "evil.pt")
    assert "this ran" not in capsys.readouterr().out
    torch.save({"something": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a file written by"):
        load_weights(get_recipe("paper-proposed"), tmp_path / "other.pt")


def test_another_architecture_or_pipeline_is_refused(corpus, tmp_path):
    fitted = get_recipe("paper-proposed", **SMALL).fit(corpus["path"], corpus["label"])
    save_weights(fitted, tmp_path / "model.pt")
    with pytest.raises(ValueError, match="'lstm' has hidden_size=16 but was saved with hidden_size=8"):
        load_weights(get_recipe("paper-proposed", **{**SMALL, "lstm__hidden_size": 16}), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="'lstm' has pooling='mean'"):
        load_weights(get_recipe("paper-proposed", **SMALL, lstm__pooling="mean"), tmp_path / "model.pt")
    with pytest.raises(ValueError, match="holds the steps"):
        load_weights(get_recipe("lstm-logmel", **SMALL), tmp_path / "model.pt")


def test_unsupported_or_unfitted_pipelines_are_refused(tmp_path):
    with pytest.raises(TypeError, match=r"Step 'svm' \(SVC\).*joblib"):
        save_weights(get_recipe("svm-mfcc"), tmp_path / "model.pt")
    with pytest.raises(NotFittedError):
        save_weights(get_recipe("paper-proposed"), tmp_path / "model.pt")


def test_a_file_of_the_first_version_loads_into_the_per_direction_lstm(tmp_path):
    from sklearn_ser.models import LSTMClassifier

    rng = np.random.default_rng(0)
    X = [rng.normal(loc=label, size=(int(rng.integers(4, 12)), 3)).astype("float32") for label in [0, 1] * 10]
    y = ["calm", "angry"] * 10
    params = dict(hidden_size=4, num_layers=2, bidirectional=True, max_epochs=2, random_state=0)
    fitted = LSTMClassifier(**params).fit(X, y)
    save_weights(fitted, tmp_path / "v2.pt")
    saved = torch.load(tmp_path / "v2.pt", weights_only=True)
    module = saved["steps"]["model"]["state"]["module"]
    renamed = {}
    for key, value in module.items():  # the single nn.LSTM of version 1: weight_ih_l1_reverse, ...
        parts = key.split(".")
        if parts[1] in ("forward_layers", "backward_layers"):
            suffix = "_reverse" if parts[1] == "backward_layers" else ""
            key = f"lstm.{parts[3][:-3]}_l{parts[2]}{suffix}"
        renamed[key] = value
    assert "lstm.weight_hh_l1_reverse" in renamed
    saved["version"], saved["steps"]["model"]["state"]["module"] = 1, renamed
    torch.save(saved, tmp_path / "v1.pt")
    loaded = load_weights(LSTMClassifier(**params), tmp_path / "v1.pt")
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


def _damaged(saved_path, tmp_path, damage):
    saved = torch.load(saved_path, weights_only=True)
    damage(saved["steps"])
    path = tmp_path / "damaged.pt"
    torch.save(saved, path)
    return path


def _network(steps):
    return steps["lstm"]["state"]["module"]


def _grow_first_tensor(steps):
    key = next(iter(_network(steps)))
    _network(steps)[key] = torch.zeros(tuple(size + 1 for size in _network(steps)[key].shape))


DAMAGES = {
    "a tensor of another shape": (_grow_first_tensor, "size mismatch"),
    "a missing tensor": (lambda steps: _network(steps).pop("head.0.weight"), "Missing key.*head.0.weight"),
    "an extra tensor": (lambda steps: _network(steps).update(extra=torch.zeros(2)), "Unexpected key.*extra"),
    "another n_features_in": (
        lambda steps: steps["lstm"]["state"].update(n_features_in=steps["lstm"]["state"]["n_features_in"] + 1),
        "size mismatch",
    ),
    "fewer classes": (lambda steps: steps["lstm"]["state"]["classes"].pop(), "size mismatch"),
    "a stored sampling rate": (lambda steps: steps["mel"]["state"].update(sr=8000), "'sr' is not a fitted attribute"),
    "a stored cache folder": (
        lambda steps: steps["mel"]["state"].update(memory="/elsewhere"),
        "'memory' is not a fitted attribute",
    ),
    "a scaler of another width": (
        lambda steps: steps["scale"]["state"].update(mean_=torch.zeros(3)),
        r"'mean_' has shape \(3,\)",
    ),
    "a missing parameter": (lambda steps: steps["mel"]["params"].pop("n_mels"), "'n_mels' is missing"),
    "an unknown parameter": (lambda steps: steps["mel"]["params"].update(colour=1), "'colour' is not a parameter"),
}


@pytest.mark.parametrize("damage", DAMAGES, ids=list(DAMAGES))
def test_a_load_is_all_or_nothing(damage, corpus, tmp_path):
    fitted = get_recipe("lstm-logmel", **SMALL).fit(corpus["path"], corpus["label"])
    assert list(fitted.named_steps)[0] == "mel" and "scale" in fitted.named_steps
    save_weights(fitted, tmp_path / "model.pt")
    apply_damage, message = DAMAGES[damage]
    path = _damaged(tmp_path / "model.pt", tmp_path, apply_damage)
    pipeline = get_recipe("lstm-logmel", **SMALL)
    with pytest.raises(ValueError, match=message):
        load_weights(pipeline, path)
    for name, step in pipeline.named_steps.items():
        assert not [key for key in vars(step) if key.endswith("_") and not key.startswith("_")], name
    with pytest.raises(NotFittedError):
        pipeline.predict(corpus["path"][:2])
    assert pipeline.named_steps["mel"].sr == get_recipe("lstm-logmel").named_steps["mel"].sr


def test_a_failed_save_keeps_the_previous_file(corpus, tmp_path, monkeypatch):
    fitted = get_recipe("paper-proposed", **SMALL).fit(corpus["path"], corpus["label"])
    save_weights(fitted, tmp_path / "model.pt")
    before = (tmp_path / "model.pt").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_weights(fitted, tmp_path / "model.pt")
    assert (tmp_path / "model.pt").read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["model.pt"]
