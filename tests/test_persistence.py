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
