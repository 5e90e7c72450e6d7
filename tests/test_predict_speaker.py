import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.recipes import get_recipe


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A per-speaker svm-mfcc with probabilities, fitted with speaker ids on two speakers; and a third speaker."""
    root = tmp_path_factory.mktemp("corpus")
    frame = make_synthetic_corpus(root, n_speakers=3, n_words=2, emotions=("angry", "sad", "happy"), random_state=0)
    train, new = frame[frame["speaker"] != "F03"], frame[frame["speaker"] == "F03"]
    pipe = get_recipe("svm-mfcc", speaker_normalization=True, probability=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe.fit(train["path"], train["label"], speaker=train["speaker"])
    model = root / "model.joblib"
    joblib.dump(pipe, model)
    return model, pipe, list(new["path"]), train


def expected(pipe, files, speaker):
    with sklearn.config_context(enable_metadata_routing=True):
        return pipe.predict_proba(files, speaker=np.full(len(files), speaker, dtype=object))


def test_a_speaker_normalizes_the_files_together_by_their_own_statistics(fitted, tmp_path):
    model, pipe, files, _ = fitted
    out = tmp_path / "with.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["predict", str(model), *files, "--speaker", "F03", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), expected(pipe, files, "F03"), rtol=1e-6)
    assert list(table["file"]) == files


def test_without_a_speaker_the_model_warns_and_predicts_otherwise(fitted, tmp_path):
    model, pipe, files, _ = fitted
    out = tmp_path / "without.csv"
    with pytest.warns(UserWarning, match="fitted per speaker but got no speaker ids"):
        assert main(["predict", str(model), *files, "--out", str(out)]) == 0
    without = pd.read_csv(out).filter(like="prob_").to_numpy()
    assert not np.allclose(without, expected(pipe, files, "F03"))


def test_an_unreadable_file_is_skipped_and_the_others_keep_their_speaker_statistics(fitted, tmp_path, capsys):
    model, pipe, files, _ = fitted
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    out = tmp_path / "some.csv"
    assert main(["predict", str(model), files[0], str(broken), *files[1:], "--speaker", "F03", "--out", str(out)]) == 1
    assert "broken.wav" in capsys.readouterr().err
    table = pd.read_csv(out)
    assert list(table["file"]) == files
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), expected(pipe, files, "F03"), rtol=1e-6)


def test_a_model_that_does_not_use_speakers_refuses_one(fitted, tmp_path, capsys):
    _, _, files, train = fitted
    plain = tmp_path / "plain.joblib"
    joblib.dump(get_recipe("svm-mfcc").fit(train["path"], train["label"]), plain)
    assert main(["predict", str(plain), files[0], "--speaker", "F03"]) == 1
    assert "does not use speaker ids" in capsys.readouterr().err


def test_predict_files_takes_the_speaker_too(fitted):
    from sklearn_ser._predict import predict_files

    model, pipe, files, _ = fitted
    table, failures = predict_files(model, files[:3], speaker="someone")
    assert not failures
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), expected(pipe, files[:3], "someone"))
    assert isinstance(table, pd.DataFrame)


def test_a_single_file_for_a_speaker_warns(fitted):
    from sklearn_ser._predict import predict_files

    model, _, files, _ = fitted
    with pytest.warns(UserWarning, match="Only one file for speaker 'F03'"):
        table, _ = predict_files(model, files[:1], speaker="F03")
    assert len(table) == 1


def refuse_poison(paths):
    if any("poison" in str(path) for path in paths):
        raise ValueError("poisoned file")
    return paths


def test_a_file_the_model_itself_refuses_is_skipped_and_the_others_keep_their_statistics(fitted, tmp_path):
    import shutil

    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    from sklearn_ser._predict import predict_files

    _, pipe, files, _ = fitted
    poison = tmp_path / "poison.wav"
    shutil.copy(files[0], poison)
    guarded = Pipeline([("guard", FunctionTransformer(refuse_poison)), *pipe.steps])
    table, failures = predict_files(guarded, [*files[:3], str(poison), *files[3:]], speaker="F03")
    assert list(failures) == [str(poison)] and "poisoned" in failures[str(poison)]
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), expected(pipe, files, "F03"), rtol=1e-6)
