"""A corpus listed in a CSV manifest, and commands on a subset of a corpus's speakers."""

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import soundfile

from sklearn_ser.cli import main
from sklearn_ser.datasets import load_corpus, load_manifest, make_synthetic_corpus
from sklearn_ser.recipes import get_recipe


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, make_synthetic_corpus(root, n_speakers=3, n_words=2, emotions=("angry", "sad"), random_state=0)


def write_manifest(path, rows, header="path,label,speaker"):
    path.write_text(header + "\n" + "".join(",".join(row) + "\n" for row in rows))
    return path


def test_a_manifest_lists_files_relative_to_its_folder(corpus, tmp_path):
    root, frame = corpus
    paths = [Path(path).relative_to(root) for path in frame["path"]]
    rows = [(str(path), label, speaker) for path, label, speaker in zip(paths, frame["label"], frame["speaker"])]
    manifest = write_manifest(root / "subset.csv", rows[::2])
    loaded = load_corpus(f"manifest:{manifest}")
    expected = frame.iloc[::2].sort_values("path", ignore_index=True)
    assert list(loaded["path"]) == list(expected["path"])
    assert list(loaded["label"]) == list(expected["label"]) and list(loaded["speaker"]) == list(expected["speaker"])
    assert set(loaded["corpus"]) == {"manifest"} and set(loaded["text"]) == {""}


def test_a_manifest_without_speakers_or_with_extra_columns(tmp_path):
    for name in ("a.wav", "b.wav"):
        soundfile.write(tmp_path / name, np.zeros(800), 16000)
    manifest = write_manifest(tmp_path / "m.csv", [("a.wav", "happy", "1"), ("b.wav", "sad", "2")], "path,label,take")
    frame = load_manifest(manifest)
    assert list(frame["speaker"]) == ["unknown"] * 2 and list(frame["take"]) == ["1", "2"]
    with pytest.raises(ValueError, match=r"labels \['happy', 'sad'\] outside the unified set"):
        load_manifest(manifest, labels="unified")


@pytest.mark.parametrize(
    "content, match",
    [
        ("file,label\na.wav,x\n", "has no column 'path'"),
        ("path,label\n", "lists no file"),
        ("path,label\na.wav,x\na.wav,y\n", "lists '.*a.wav' more than once"),
        ("path,label\na.wav,x\nmissing.wav,y\n", r"lists 1 file\(s\) that do not exist, e.g. '.*missing.wav'"),
    ],
)
def test_a_bad_manifest_is_named(tmp_path, content, match):
    soundfile.write(tmp_path / "a.wav", np.zeros(800), 16000)
    (tmp_path / "m.csv").write_text(content)
    with pytest.raises(ValueError, match=match) as info:
        load_manifest(tmp_path / "m.csv")
    assert "m.csv" in str(info.value)


def test_fit_on_a_subset_of_speakers(corpus, tmp_path, capsys):
    root, frame = corpus
    model = tmp_path / "model.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model)]
    assert sorted(set(frame["speaker"])) == ["F01", "F03", "M02"]
    assert main([*args, "--exclude-speakers", "F03"]) == 0
    assert "Fitting 'svm-mfcc' on 8 files" in capsys.readouterr().out
    kept = frame[frame["speaker"] != "F03"]
    alone = get_recipe("svm-mfcc").fit(kept["path"], kept["label"])
    np.testing.assert_allclose(
        joblib.load(model).decision_function(frame["path"]), alone.decision_function(frame["path"])
    )
    assert main([*args, "--speakers", "F01, M02"]) == 0
    assert "Fitting 'svm-mfcc' on 8 files" in capsys.readouterr().out
    np.testing.assert_allclose(
        joblib.load(model).decision_function(frame["path"]), alone.decision_function(frame["path"])
    )
    assert main([*args, "--speakers", "F01,F09"]) == 1
    assert "--speakers: no speaker 'F09' in synthetic:" in capsys.readouterr().err
    assert main([*args, "--exclude-speakers", "F01,F03,M02"]) == 1
    assert "No file of synthetic:" in capsys.readouterr().err


def test_evaluate_on_a_manifest(corpus, tmp_path, capsys):
    root, frame = corpus
    manifest = tmp_path / "all.csv"
    pd.DataFrame({"path": frame["path"], "label": frame["label"], "speaker": frame["speaker"]}).to_csv(
        manifest, index=False
    )
    out = tmp_path / "report"
    assert main(["evaluate", "--corpus", f"manifest:{manifest}", "--recipe", "svm-mfcc", "--out", str(out)]) == 0
    assert (out / "report.md").is_file() and "12 files" in (out / "report.md").read_text()
