import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import soundfile

from sklearn_ser.cli import main
from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.models import count_trainable_parameters
from sklearn_ser.recipes import get_recipe, list_recipes, recipe_options

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

QUICK = {
    "paper-proposed": dict(max_epochs=2),
    "paper-traditional": dict(max_epochs=2),
    "lstm-logmel": dict(max_epochs=1, lstm__hidden_size=8),
    "lstm-egemaps": dict(max_epochs=1, lstm__hidden_size=8),
    "lstm-mfcc": dict(max_epochs=1, lstm__hidden_size=8),
    "segment-lstm": dict(max_epochs=1, lstm__hidden_size=4),
    "lstm-best": dict(max_epochs=1, lstm__hidden_size=8),
    "crnn-logmel": dict(max_epochs=1, crnn__hidden_size=8, crnn__conv_channels=(4, 4)),
    "fusion": dict(max_epochs=1, cv=2, fusion__lstm__lstm__hidden_size=8, fusion__svm__svm__cv=2),
    "ssl-svm": dict(probability=True),
    "ssl-best": dict(),
    "ssl-lstm": dict(layer=1, max_epochs=1, lstm__hidden_size=4),
    "multiscale-lstm": dict(max_epochs=1, segment_frames=(64, 128), multiscale__estimator__hidden_size=8),
    "densenet-mfcc-fusion": dict(weights=None, max_epochs=20, features__densenet__densenet__segment_frames=32),
    "densenet-lstm": dict(weights=None, max_epochs=1, segment_frames=32, segment_hop=16, lstm__hidden_size=8),
    "svm-mfcc": dict(probability=True),
    "svm-egemaps": dict(probability=True),
    "svm-best": dict(probability=True),
    "best": dict(),
    "best-offline": dict(max_epochs=1, lstm__hidden_size=8),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    return root, make_synthetic_corpus(root, n_speakers=2, n_words=2, random_state=0)


@pytest.fixture(scope="module")
def speech_model(tmp_path_factory):
    """A folder holding a tiny random HuBERT model (2 layers, 16 dimensions, 20 ms frames) and its feature extractor."""
    transformers = pytest.importorskip("transformers")
    import torch

    folder = tmp_path_factory.mktemp("hubert")
    config = transformers.HubertConfig(
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(16, 16),
        conv_kernel=(400, 2),
        conv_stride=(160, 2),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        transformers.HubertModel(config).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=False, return_attention_mask=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def fitted(corpus, speech_model):
    _, frame = corpus
    models = {}
    for name, options in QUICK.items():
        model = {"model": str(speech_model)} if "model" in recipe_options(name) else {}
        seed = {"random_state": 0} if "random_state" in recipe_options(name) else {}
        models[name] = get_recipe(name, **seed, **model, **options).fit(frame["path"], frame["label"])
    return models


def test_every_recipe_is_exercised():
    assert list_recipes() == sorted(QUICK)


def test_paper_proposed_has_the_papers_parameter_count(fitted):
    lstm = fitted["paper-proposed"].named_steps["lstm"]
    assert len(lstm.classes_) == 7
    assert count_trainable_parameters(lstm.net_.module_) == 305_799


def test_paper_traditional_is_the_documented_baseline(fitted):
    assert count_trainable_parameters(fitted["paper-traditional"].named_steps["lstm"].net_.module_) == 67_463


@pytest.mark.parametrize("name", sorted(QUICK))
def test_recipes_predict_the_users_labels(fitted, corpus, name):
    _, frame = corpus
    predicted = fitted[name].predict(frame["path"][:5])
    assert set(predicted) <= set(frame["label"])
    proba = fitted[name].predict_proba(frame["path"][:5])
    assert proba.shape == (5, 7) and np.allclose(proba.sum(axis=1), 1)


def test_saved_recipes_give_identical_probabilities_in_a_fresh_process(fitted, corpus, tmp_path):
    _, frame = corpus
    paths = list(frame["path"][:4])
    expected = {name: pipe.predict_proba(paths) for name, pipe in fitted.items()}
    joblib.dump((fitted, paths, expected), tmp_path / "models.joblib")
    code = (
        "import joblib, numpy as np\n"
        f"models, paths, expected = joblib.load({str(tmp_path / 'models.joblib')!r})\n"
        "for name, pipe in models.items():\n"
        "    np.testing.assert_array_equal(pipe.predict_proba(paths), expected[name], err_msg=name)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_recipe_and_option():
    with pytest.raises(ValueError, match="Unknown recipe 'paper'"):
        get_recipe("paper")
    with pytest.raises(ValueError, match="Unknown recipe 'ssl-bets'. Did you mean 'ssl-best'?"):
        get_recipe("ssl-bets")
    with pytest.raises(ValueError, match=r"Unknown recipe 'zzz'. Choose one of \['best'"):
        get_recipe("zzz")
    with pytest.raises(ValueError, match="has no option 'hidden_size'"):
        get_recipe("paper-proposed", hidden_size=3)
    with pytest.raises(ValueError, match="Invalid parameter"):
        get_recipe("paper-proposed", lstm__no_such_parameter=3)


def test_cli_fit_then_predict(corpus, tmp_path, capsys):
    root, frame = corpus
    model = tmp_path / "model.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "paper-proposed", "--out", str(model)]
    assert main([*args, "--max-epochs", "1", "--random-state", "0", "--set", "lstm__batch_size=8"]) == 0
    assert joblib.load(model).named_steps["lstm"].batch_size == 8
    capsys.readouterr()
    assert main(["predict", str(model), str(root / "F01_angry"), frame["path"][0]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["file", "label"] and header[2:] == [f"prob_{label}" for label in sorted(set(frame["label"]))]
    assert len(lines) == 1 + 2 + 1
    csv = tmp_path / "predictions.csv"
    assert main(["predict", str(model), frame["path"][0], "--out", str(csv)]) == 0
    assert csv.read_text().count("\n") == 2


def test_cli_reports_bad_input(corpus, tmp_path, capsys):
    root, _ = corpus
    assert main(["fit", "--corpus", f"nowhere:{root}", "--recipe", "paper-proposed", "--out", "m.joblib"]) == 1
    assert "KIND:PATH" in capsys.readouterr().err
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "x", "--out", "m.joblib"]) == 1
    assert "Unknown recipe" in capsys.readouterr().err
    model = tmp_path / "m.joblib"
    joblib.dump(get_recipe("paper-proposed", max_epochs=1).fit(*_two_classes(root)), model)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"not audio")
    assert main(["predict", str(model), str(broken)]) == 1
    assert "broken.wav" in capsys.readouterr().err
    assert main(["predict", str(model), str(tmp_path / "missing.wav")]) == 1
    assert "missing.wav" in capsys.readouterr().err


def _two_classes(root):
    from sklearn_ser.datasets import load_synthetic

    frame = load_synthetic(root)
    frame = frame[frame["label"].isin(["angry", "sad"])]
    return frame["path"], frame["label"]


def test_cli_predict_with_a_model_without_probabilities(corpus, tmp_path, capsys):
    root, frame = corpus
    model = tmp_path / "svm.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), frame["path"][0], frame["path"][1]]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "file,label" and len(lines) == 3
    assert lines[1].split(",")[1] in set(frame["label"])


def test_cli_fit_routes_the_speakers_to_the_steps_that_request_them(corpus, tmp_path):
    root, frame = corpus
    model = tmp_path / "model.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model)]
    assert main([*args, "--set", "speaker_normalization=True"]) == 0
    normalizer = joblib.load(model).named_steps["speaker_norm"]
    assert sorted(normalizer.speaker_statistics_) == sorted(set(frame["speaker"]))


def test_the_lstm_recipe_normalizes_each_speaker_when_asked(corpus):
    from sklearn_ser.evaluation import evaluate

    _, frame = corpus
    pipe = get_recipe("lstm-logmel", speaker_normalization=True, max_epochs=1, lstm__hidden_size=4, random_state=0)
    result = evaluate(pipe, frame, protocol="speaker", keep_estimators=True)
    for fitted, (speaker,) in zip(result.estimators, [["M02"], ["F01"]]):
        assert list(fitted.named_steps["speaker_norm"].speaker_statistics_) == [speaker]


def test_the_fusion_routes_the_speakers_to_both_members(corpus, tmp_path):
    root, frame = corpus
    model = tmp_path / "fusion.joblib"
    small = ["max_epochs=1", "fusion__lstm__lstm__hidden_size=4", "fusion__svm__svm__cv=2"]
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "fusion", "--out", str(model)]
    assert main([*args, "--random-state", "0", *[item for option in small for item in ("--set", option)]]) == 0
    fusion = joblib.load(model).named_steps["fusion"]
    lstm_features = fusion.named_estimators_["lstm"].named_steps["features"].named_transformers
    normalizers = [
        fusion.named_estimators_["svm"].named_steps["speaker_norm"],
        lstm_features["segments"].named_steps["speaker_norm"],
        lstm_features["utterance"].named_steps["speaker_norm"],
    ]
    for normalizer in normalizers:
        assert sorted(normalizer.speaker_statistics_) == sorted(set(frame["speaker"]))
    assert len(fusion.cv_results_["score"]) == 11 and np.isclose(fusion.weights_.sum(), 1.0)


def test_cli_evaluates_a_speech_model_recipe_given_a_model_folder(corpus, speech_model, tmp_path, capsys):
    root, _ = corpus
    args = ["evaluate", "--corpus", f"synthetic:{root}", "--recipe", "ssl-svm", "--protocol", "speaker"]
    assert main([*args, "--set", f"speech__model={speech_model}", "--out", str(tmp_path / "report")]) == 0
    assert (tmp_path / "report").is_dir()
    capsys.readouterr()
    missing = tmp_path / "no-such-model"
    assert main([*args, "--speech-model", str(missing), "--out", str(tmp_path / "other")]) == 1
    assert "no-such-model" in capsys.readouterr().err


def test_a_missing_pretrained_model_names_how_to_get_it_and_the_offline_recipe(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    root, _ = corpus
    out = tmp_path / "best.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "best", "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "model='openai/whisper-base'" in error and "`sklearn-ser fetch-model openai/whisper-base`" in error
    assert "'best-offline' needs none" in error and not out.exists()


def test_speech_model_option_sets_the_model_of_the_recipes_that_have_one(corpus, speech_model, tmp_path, capsys):
    root, _ = corpus
    out = tmp_path / "ssl.joblib"
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "ssl-best", "--speech-model", str(speech_model)]
    assert main([*args, "--out", str(out)]) == 0
    assert joblib.load(out).named_steps["speech"].model == str(speech_model)
    args = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--speech-model", str(speech_model)]
    assert main([*args, "--out", str(tmp_path / "svm.joblib")]) == 1
    assert "--speech-model: recipe 'svm-mfcc' uses no pretrained speech model" in capsys.readouterr().err


@pytest.mark.parametrize(("features", "n_features"), [("mfcc", 120), ("egemaps", 25), ("mfcc+egemaps", 195)])
def test_the_segment_lstm_reads_segment_statistics_of_its_features(corpus, features, n_features):
    _, frame = corpus
    pipe = get_recipe("segment-lstm", features=features, speaker_normalization=True, max_epochs=1, random_state=0)
    fitted = pipe.fit(frame["path"], frame["label"])
    n_frames = len(fitted[:-3].transform(frame["path"][:1])[0])
    sequence = fitted[:-1].transform(frame["path"][:1])[0]
    assert len(sequence) == len(range(0, n_frames - 50 + 1, 25)) + ((n_frames - 50) % 25 != 0)
    assert sequence.shape[1] == 2 * n_features
    with pytest.raises(ValueError, match="features must be"):
        get_recipe("segment-lstm", features="mel")


def test_lstm_best_reads_one_second_segments_beside_the_utterance_functionals(corpus):
    from sklearn_ser._sequences import sliding_starts
    from sklearn_ser.features import EGeMAPS

    _, frame = corpus
    fitted = get_recipe("lstm-best", max_epochs=1, lstm__hidden_size=4, random_state=0).fit(
        frame["path"], frame["label"]
    )
    segments = fitted.named_steps["features"].named_transformers["segments"]
    n_frames = len(segments[:-1].transform(frame["path"][:1])[0])
    sequence = fitted[:-2].transform(frame["path"][:1])[0]
    assert len(sequence) == len(sliding_starts(n_frames, 100, 50))
    assert sequence.shape[1] == 2 * 3 * 65 + 88
    functionals = fitted.named_steps["features"].named_transformers["utterance"].transform(frame["path"][:1])
    np.testing.assert_allclose(sequence[:, -88:], np.tile(functionals, (len(sequence), 1)), rtol=1e-5)
    assert not np.allclose(functionals, EGeMAPS().fit_transform(frame["path"][:1]))


def plain_parameters(estimator):
    """Every nested parameter that is a plain value (not an estimator or a list of steps), by name."""
    return {
        name: repr(value)
        for name, value in estimator.get_params(deep=True).items()
        if not hasattr(value, "get_params") and not isinstance(value, list)
    }


def test_best_is_ssl_best_best_offline_is_lstm_best_and_fusion_weighs_on_log_loss():
    best, ssl_best = get_recipe("best", C=3.0), get_recipe("ssl-best", C=3.0)
    assert plain_parameters(best) == plain_parameters(ssl_best)
    assert plain_parameters(best)["speech__model"] == repr("openai/whisper-base")
    assert (plain_parameters(best)["speech__layer"], plain_parameters(best)["speech__pooling"]) == ("1", "'mean+std'")
    offline, lstm_best = get_recipe("best-offline", random_state=3), get_recipe("lstm-best", random_state=3)
    assert plain_parameters(offline) == plain_parameters(lstm_best) and "lstm__hidden_size" in plain_parameters(offline)
    with pytest.raises(ValueError, match="'best' is now 'ssl-best'.* 'best-offline' .* 'svm-best'"):
        get_recipe("best", probability=True)
    fusion = get_recipe("fusion").named_steps["fusion"]
    assert fusion.scoring == "neg_log_loss"
    members = fusion.named_estimators
    assert plain_parameters(members["svm"]) == plain_parameters(get_recipe("svm-best", probability=True))
    assert plain_parameters(members["lstm"]) == plain_parameters(get_recipe("lstm-best"))


def test_a_pretrained_recipe_through_fit_predict_and_timeline(corpus, speech_model, tmp_path, capsys):
    from sklearn_ser import load_audio
    from sklearn_ser.timeline import predict_timeline, window_clips

    root, frame = corpus
    model = tmp_path / "ssl.joblib"
    fit = ["fit", "--corpus", f"synthetic:{root}", "--recipe", "ssl-best", "--speech-model", str(speech_model)]
    assert main([*fit, "--out", str(model)]) == 0
    recording = tmp_path / "recording.wav"
    waves = [load_audio(path, sr=16000) for path in frame["path"][:6]]
    soundfile.write(recording, np.concatenate(waves), 16000)
    capsys.readouterr()
    assert main(["predict", str(model), *frame["path"][:3]]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4
    timeline = tmp_path / "timeline.csv"
    assert main(["timeline", str(model), str(recording), "--out", str(timeline)]) == 0
    table = pd.read_csv(timeline)
    assert len(table) >= 5 and set(table["label"].dropna()) <= set(frame["label"])
    on_windows_file = tmp_path / "ssl-windows.joblib"
    assert main([*fit, "--window", "1.0", "--out", str(on_windows_file)]) == 0  # the model's rate found by loading it
    assert joblib.load(on_windows_file).sklearn_ser_trained_on_["window"] == 1.0
    windows, labels, _ = window_clips(waves, frame["label"][:6], sr=16000, window=1.0, hop=0.5)
    on_windows = get_recipe("ssl-best", model=str(speech_model)).fit(windows, labels)
    assert len(predict_timeline(on_windows, recording, window=1.0, hop=0.5)) > len(table)


def test_the_recipes_command_lists_every_recipe_in_one_line(capsys):
    assert main(["recipes"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == list_recipes()
    by_name = {line.split()[0]: line for line in lines}
    assert "needs pretrained speech encoder weights (sklearn-ser fetch-model openai/whisper-base)" in by_name["best"]
    assert "trains a neural network" in by_name["best-offline"] and "needs opensmile" in by_name["best-offline"]
    assert by_name["svm-mfcc"].endswith("[no network training]")
    assert ":func:" not in "".join(lines)
