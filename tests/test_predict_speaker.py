import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn

from sklearn_ser.cli import main
from sklearn_ser.recipes import get_recipe


@pytest.fixture
def fitted(per_speaker_svm):
    return per_speaker_svm


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


def test_without_a_speaker_the_model_warns_once_in_a_line_and_predicts_otherwise(fitted, tmp_path, capsys):
    model, pipe, files, _ = fitted
    out = tmp_path / "without.csv"
    assert main(["predict", str(model), *files, "--out", str(out)]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warned) == 1 and warned[0].startswith("sklearn-ser predict: warning: SpeakerNormalizer was fitted")
    assert ".py" not in warned[0]
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
    with pytest.warns(UserWarning, match="Speaker 'someone' has 3 files"):
        table, failures = predict_files(model, files[:3], speaker="someone")
    assert not failures
    np.testing.assert_allclose(table.filter(like="prob_").to_numpy(), expected(pipe, files[:3], "someone"))
    assert isinstance(table, pd.DataFrame)


def test_a_single_file_for_a_speaker_warns(fitted):
    from sklearn_ser._predict import predict_files

    model, _, files, _ = fitted
    with pytest.warns(UserWarning, match="Speaker 'F03' has 1 file: statistics of so few"):
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


def two_speakers_files(fitted, tmp_path):
    """The new speaker's files and those of a training speaker, copied into one folder as SPEAKER_name.wav."""
    import shutil

    _, _, files, train = fitted
    folder = tmp_path / "mixed"
    folder.mkdir()
    copies = {}
    for speaker, sources in (("F03", files), ("F01", list(train[train["speaker"] == "F01"]["path"]))):
        for source in sources:
            copy = folder / f"{speaker}_{len(copies):02d}.wav"
            shutil.copy(source, copy)
            copies[str(copy)] = speaker
    return folder, copies


def test_speakers_from_a_table_or_a_pattern_predict_each_speaker_by_its_own_statistics(fitted, tmp_path, capsys):
    model, pipe, _, _ = fitted
    folder, copies = two_speakers_files(fitted, tmp_path)
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\n" + "".join(f"mixed/{Path(f).name},{s}\n" for f, s in copies.items()))
    outputs = {}
    for option in (["--speakers-csv", str(table)], ["--speaker-pattern", r"(?P<speaker>F\d\d)_\d+\.wav$"]):
        out = tmp_path / f"{option[0]}.csv"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert main(["predict", str(model), str(folder), *option, "--out", str(out)]) == 0
        outputs[option[0]] = pd.read_csv(out)
    by_table, by_pattern = outputs.values()
    pd.testing.assert_frame_equal(by_table, by_pattern)
    assert list(by_table["file"]) == sorted(copies) and list(by_table["speaker"]) == [copies[f] for f in sorted(copies)]
    for speaker in ("F03", "F01"):
        mine = by_table[by_table["speaker"] == speaker]
        np.testing.assert_allclose(
            mine.filter(like="prob_").to_numpy(), expected(pipe, list(mine["file"]), speaker), rtol=1e-6
        )


def test_a_file_without_a_speaker_id_is_reported_and_the_others_predicted(fitted, tmp_path, capsys):
    model, _, _, _ = fitted
    folder, copies = two_speakers_files(fitted, tmp_path)
    listed = sorted(copies)[1:]
    table = tmp_path / "speakers.csv"
    table.write_text("path,speaker\n" + "".join(f"{f},{copies[f]}\n" for f in listed))
    assert main(["predict", str(model), str(folder), "--speakers-csv", str(table)]) == 1
    captured = capsys.readouterr()
    assert f"skipped: '{sorted(copies)[0]}' is without a speaker id" in captured.err
    assert len(captured.out.strip().splitlines()) == 1 + len(listed)


@pytest.mark.parametrize(
    "option, content, match",
    [
        ("--speakers-csv", "file,who\nx.wav,a\n", "has no column 'path'"),
        ("--speakers-csv", "path,speaker\nx.wav,a\nx.wav,b\n", "gives 'x.wav' two speakers, 'a' and 'b'"),
        ("--speaker-pattern", None, "has no group named 'speaker'"),
    ],
)
def test_a_bad_speaker_table_or_pattern_is_named(fitted, tmp_path, capsys, option, content, match):
    model, _, files, _ = fitted
    value = "F(\\d+)"
    if content is not None:
        value = str(tmp_path / "speakers.csv")
        Path(value).write_text(content)
    assert main(["predict", str(model), files[0], option, value]) == 1
    assert match in capsys.readouterr().err
