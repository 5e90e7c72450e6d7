import shutil

import matplotlib
import pandas as pd
import pytest

from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus

matplotlib.use("Agg")
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    frame = make_synthetic_corpus(root, n_speakers=2, n_words=6, emotions=("angry", "sad", "happy"))
    return root, frame


@pytest.fixture(scope="module")
def fake_tess(synthetic, tmp_path_factory):
    """The synthetic corpus copied into TESS's layout (speakers OAF and YAF)."""
    _, frame = synthetic
    root = tmp_path_factory.mktemp("tess")
    for row in frame.itertuples():
        speaker = {"F01": "OAF", "M02": "YAF"}[row.speaker]
        folder = root / f"{speaker}_{row.label}"
        folder.mkdir(exist_ok=True)
        shutil.copy(row.path, folder / f"{speaker}_{row.text}_{row.label}.wav")
    return root


def test_cli_evaluate_writes_a_report(synthetic, tmp_path, capsys):
    root, frame = synthetic
    out = tmp_path / "report"
    args = ["evaluate", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--protocol", "speaker"]
    assert main([*args, "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "speaker protocol, 2 folds" in report
    assert "| label | precision | recall | f1 | support |" in report
    for figure in ("evaluation_confusion.png", "evaluation_confusion_normalized.png"):
        assert f"({figure})" in report and (out / figure).read_bytes()[:4] == b"\x89PNG"
    assert "accuracy" in capsys.readouterr().out


def test_cli_compare_writes_tables_tests_and_figures_named_by_recipe(synthetic, tmp_path, capsys):
    root, frame = synthetic
    out = tmp_path / "compare"
    args = ["compare", "--corpus", f"synthetic:{root}", "--recipes", "svm-mfcc,paper-traditional"]
    assert main([*args, "--protocol", "text", "--n-splits", "2", "--max-epochs", "2", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "## Paired tests over folds" in report and "## paper-traditional" in report
    assert (out / "svm-mfcc_confusion.png").exists() and (out / "paper-traditional_confusion.png").exists()
    # training curves without a validation curve show nothing: left out
    assert not list(out.glob("*_training_*")) and "Training" not in report
    assert "| fold 1 |" in report  # text folds hold out words, not speakers
    assert f"- Command: `sklearn-ser compare --corpus synthetic:{root} --recipes svm-mfcc,paper-traditional" in report
    n_labels = frame["label"].nunique()
    assert f"{len(frame)} files, {n_labels} labels" in report and f"chance level {1 / n_labels:.1%}" in report
    assert "- Recipe `paper-traditional`: 5 steps" in report and "'max_epochs': 2" in report
    assert main([*args[:-1], "svm-mfcc", "--out", str(out)]) == 1
    assert "at least two" in capsys.readouterr().err


def test_cli_evaluate_names_folds_by_speaker_and_draws_validation_curves(synthetic, tmp_path):
    root, frame = synthetic
    out = tmp_path / "evaluate"
    args = ["evaluate", "--corpus", f"synthetic:{root}", "--recipe", "paper-traditional", "--max-epochs", "3"]
    options = ["--set", "lstm__early_stopping=True", "--set", "lstm__validation_fraction=0.3", "--random-state", "0"]
    assert main([*args, *options, "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    for speaker in sorted(set(frame["speaker"])):
        assert f"| held out: {speaker} |" in report
    curves = sorted(out.glob("evaluation_training_fold*.png"))
    assert len(curves) == frame["speaker"].nunique() and "Training and validation curves, held out: " in report
    assert "seed 0" in report


def test_cli_cross_corpus(synthetic, fake_tess, tmp_path, capsys):
    root, _ = synthetic
    out = tmp_path / "cross"
    corpora = ["--corpus", f"synthetic:{root}", "--corpus", f"tess:{fake_tess}", "--labels", "unified"]
    assert main(["evaluate", *corpora, "--recipe", "svm-mfcc", "--protocol", "cross-corpus", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "cross-corpus protocol, 2 folds" in report and "| happiness |" in report
    assert (
        main(["evaluate", *corpora[:2], "--recipe", "svm-mfcc", "--protocol", "cross-corpus", "--out", str(out)]) == 1
    )
    assert "at least two corpora" in capsys.readouterr().err


def test_reproduce_paper_on_a_small_tess_tree(fake_tess, tmp_path):
    out = tmp_path / "paper"
    args = ["reproduce-paper", "--tess", str(fake_tess), "--out", str(out), "--epochs", "2", "--text-splits", "2"]
    assert main(args) == 0
    report = (out / "report.md").read_text()
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["protocol"]) == {"random 80/20", "speaker", "text"}
    assert {"paper-proposed", "paper-traditional", "svm-mfcc"} <= set(summary["model"])
    epochs = pd.read_csv(out / "paper-proposed_epochs.csv")
    assert list(epochs["epoch"]) == [1, 2] and epochs["test accuracy"].between(0, 1).all()
    assert "accuracy per epoch" in report and "100%" in report
    for figure in ("emotion_examples.png", "mfcc_correlation.png", "speaker_paper-proposed_confusion.png"):
        assert (out / figure).read_bytes()[:4] == b"\x89PNG"
