import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(list(args))


def test_quickstart(capsys):
    random_split, by_speaker = run_example("quickstart", "--quick")
    assert len(random_split) == 5 and len(by_speaker) == 2
    assert "speaker-independent split accuracy" in capsys.readouterr().out


def test_speaker_normalization(capsys):
    tables = run_example("speaker_normalization", "--quick", "--protocols", "speaker")
    assert set(tables) == {"speaker"}
    assert "svm-mfcc + SpeakerNormalizer" in capsys.readouterr().out


def test_choose_best_recipe():
    summary = run_example("choose_best_recipe", "--quick")
    assert len(summary) == 7 and summary["balanced_accuracy"].between(0, 1).all()


def test_svm_vs_lstm(capsys):
    table, tests = run_example("svm_vs_lstm", "--quick")
    assert set(table.index.get_level_values(0)) == {"svm-mfcc", "lstm-logmel"}
    assert len(tests) == 3  # one pair, three metrics
    assert "lstm-logmel" in capsys.readouterr().out


def test_optuna_search(tmp_path):
    search = run_example("optuna_search", "--quick", "--plots", str(tmp_path))
    assert len(search.study_.trials) == 3 and search.n_splits_ == 2
    assert "lstm__hidden_size" in search.best_params_
    assert (tmp_path / "search_history.png").is_file()


def test_distributed_search(capsys):
    trials = run_example("distributed_search", "--quick", "--recipe", "svm-mfcc")
    assert 4 <= len(trials) <= 5 and all(trial.state.is_finished() for trial in trials)
    assert "finished trials from" in capsys.readouterr().out


def test_save_load_predict():
    here, loaded_here, elsewhere = run_example("save_load_predict", "--quick")
    assert (here == loaded_here).all()
    probabilities = elsewhere.filter(like="prob_").to_numpy()
    assert abs(probabilities - here).max() < 1e-6


def test_densenet_fusion():
    table = run_example("densenet_fusion", "--quick")
    assert set(table.index.get_level_values(0)) == {"densenet-mfcc-fusion", "svm-mfcc"}


def test_emotion_timeline(tmp_path, capsys):
    summary = run_example("emotion_timeline", "--quick", "--plot", str(tmp_path / "timeline.png"))
    assert list(summary.index) == ["fitted on clips", "fitted on windows"]
    assert (summary["silent windows marked speech"] == 0).all() and (summary["silent windows"] > 0).all()
    on_windows = summary.loc["fitted on windows"]
    assert abs(on_windows["agreement inside utterances"] - on_windows["accuracy on the clips"]) <= 0.15
    assert (tmp_path / "timeline.png").is_file()
    assert "held-out clips" in capsys.readouterr().out


def test_command_line_study(tmp_path, capsys):
    accuracy, agreement = run_example("command_line_study", "--quick", "--out", str(tmp_path))
    assert list(accuracy.index) == ["F03", "M04"] and accuracy.between(0, 1).all()
    assert 0 <= agreement <= 1
    for name in ("report/report.md", "model.joblib", "predictions.csv", "timeline.csv", "timeline.png", "speech.csv"):
        assert (tmp_path / name).is_file(), name
    assert "held out: F01" in (tmp_path / "report" / "report.md").read_text()
    assert "$ sklearn-ser predict" in capsys.readouterr().out
