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
