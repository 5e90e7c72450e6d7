"""Errors blame the right thing: the model, not every file; the weights, not a missing folder; the path, not silence."""

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC

from sklearn_ser._predict import predict_files
from sklearn_ser.cli import main
from sklearn_ser.features import MFCC, SequencePooling

SR = 16000


def tone(freq, seconds=0.5):
    t = np.arange(int(SR * seconds)) / SR
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Six short WAV files: three low tones ("low") and three high ones ("high")."""
    import soundfile

    folder = tmp_path_factory.mktemp("tones")
    paths, labels = [], []
    for index, freq in enumerate((200, 220, 240, 1800, 2000, 2200)):
        path = folder / f"tone{index}.wav"
        soundfile.write(path, tone(freq), SR)
        paths.append(str(path))
        labels.append("low" if freq < 1000 else "high")
    return paths, labels


def mfcc_pipeline(final=None):
    return make_pipeline(MFCC(sr=SR, n_mfcc=8, n_mels=20), SequencePooling(), final or LogisticRegression())


def one_error_line(capsys):
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sklearn-ser: error: "), err
    assert "skipped" not in err and "Traceback" not in err
    return lines[0]


def test_an_unfitted_model_is_named_before_any_file_is_read(audio, tmp_path, capsys, monkeypatch):
    import sklearn_ser._predict

    def never(*args, **kwargs):
        raise AssertionError("the files were looked at before the model was checked")

    monkeypatch.setattr(sklearn_ser._predict, "audio_files", never)
    model = tmp_path / "unfitted.joblib"
    joblib.dump(mfcc_pipeline(), model)
    assert main(["predict", str(model), *audio[0]]) == 1
    assert one_error_line(capsys) == (
        f"sklearn-ser: error: The model in '{model}' is a Pipeline(MFCC, SequencePooling, LogisticRegression) "
        "that is not fitted: fit it on audio files before predicting ('sklearn-ser fit', or its fit method and "
        "joblib.dump)."
    )


@pytest.mark.parametrize(
    "make, described",
    [
        (lambda: make_pipeline(StandardScaler(), SVC()), "Pipeline(StandardScaler, SVC)"),
        (lambda: LogisticRegression(), "LogisticRegression"),
    ],
    ids=["scaler+svc", "bare classifier"],
)
def test_a_model_fitted_on_a_table_of_numbers_is_refused_before_any_file_is_read(
    audio, tmp_path, capsys, make, described
):
    rng = np.random.default_rng(0)
    model = tmp_path / "numbers.joblib"
    joblib.dump(make().fit(rng.standard_normal((20, 3)), [0, 1] * 10), model)
    missing = tmp_path / "no-such-folder"  # a file read would be reported; the model comes first
    assert main(["predict", str(model), *audio[0], str(missing)]) == 1
    assert one_error_line(capsys) == (
        f"sklearn-ser: error: The model in '{model}' is a {described}, which does not read audio: none of its "
        "steps takes audio files or waveforms (an audio feature transformer such as MFCC, MelSpectrogram or "
        "SpeechEmbedder). Predict with a model fitted on audio, e.g. by 'sklearn-ser fit'."
    )


def test_an_unfitted_model_object_is_refused_by_the_library_too(audio):
    with pytest.raises(ValueError, match=r"^The model is a Pipeline\(MFCC, SequencePooling, LogisticRegression\) "):
        predict_files(mfcc_pipeline(), audio[0])


@pytest.fixture(scope="module")
def broken_model(audio, tmp_path_factory):
    """An MFCC pipeline whose classifier expects other features (5, not 16): it fails on any audio."""
    paths, labels = audio
    model = mfcc_pipeline().fit(paths, labels)
    rng = np.random.default_rng(0)
    model.steps[-1] = ("logisticregression", LogisticRegression().fit(rng.standard_normal((6, 5)), labels))
    path = tmp_path_factory.mktemp("broken") / "broken.joblib"
    joblib.dump(model, path)
    return path


def test_an_error_of_the_model_is_reported_once_not_as_every_file(audio, broken_model, tmp_path, capsys):
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(b"RIFF and nothing else")
    assert main(["predict", str(broken_model), *audio[0], str(damaged)]) == 1
    assert one_error_line(capsys) == (
        f"sklearn-ser: error: The model in '{broken_model}' fails while predicting, whatever the audio "
        "(ValueError: X has 16 features, but LogisticRegression is expecting 5 features as input); "
        "no file was predicted."
    )


def test_the_model_is_checked_with_one_probe_not_file_by_file(audio, broken_model, monkeypatch):
    model = joblib.load(broken_model)
    calls = []
    original = type(model).predict_proba

    def counting(self, X, **params):
        calls.append(len(X))
        return original(self, X, **params)

    monkeypatch.setattr(type(model), "predict_proba", counting)
    with pytest.raises(ValueError, match="fails while predicting, whatever the audio"):
        predict_files(model, audio[0])
    assert calls == [len(audio[0]), 1]  # the files together, then the probe: never each file


def refuse_poison(X):
    if any("poison" in str(item) for item in X):
        raise ValueError("poisoned input")
    return X


def test_a_file_the_model_refuses_is_still_skipped_and_an_unreadable_one_too(audio, tmp_path, capsys):
    import shutil

    paths, labels = audio
    fitted = mfcc_pipeline().fit(paths, labels)
    guarded = make_pipeline(FunctionTransformer(refuse_poison), *[step for _, step in fitted.steps])
    poison, damaged = tmp_path / "poison.wav", tmp_path / "damaged.wav"
    shutil.copy(paths[0], poison)
    damaged.write_bytes(b"RIFF and nothing else")
    table, failures = predict_files(guarded, [str(poison), *paths, str(damaged)])
    assert table["file"].tolist() == paths
    assert list(failures) == [str(poison), str(damaged)]
    assert failures[str(poison)] == "poisoned input" and str(damaged) in failures[str(damaged)]


def missing_weights(X):
    raise FileNotFoundError("[Errno 2] No such file or directory: '/models/encoder/weights.bin'")


def test_a_missing_file_of_the_model_is_not_taken_for_a_missing_audio_file(audio, capsys, tmp_path):
    """Own case: a FileNotFoundError raised by the model names no input file, so it is the model's."""
    paths, labels = audio
    fitted = mfcc_pipeline().fit(paths, labels)
    needy = make_pipeline(*[step for _, step in fitted.steps[:-1]], FunctionTransformer(missing_weights))
    needy.steps.append(("classifier", fitted.steps[-1][1]))
    model = tmp_path / "needy.joblib"
    joblib.dump(needy, model)
    assert main(["predict", str(model), *paths]) == 1
    line = one_error_line(capsys)
    assert f"The model in '{model}' fails while predicting, whatever the audio (FileNotFoundError: " in line
    assert "weights.bin" in line


# --- SpeechEmbedder: damaged checkpoints of the AutoModel encoders (wav2vec2, HuBERT, WavLM) -----------------------

ENCODER = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
CONVOLUTIONS = dict(conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2))
CONVOLUTIONS.update(num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)


@pytest.fixture(scope="module")
def speech_models(tmp_path_factory):
    """Tiny random wav2vec2, HuBERT and WavLM folders written by save_pretrained."""
    transformers = pytest.importorskip("transformers")
    import torch

    root = tmp_path_factory.mktemp("speech_models")
    kinds = {
        "wav2vec2": (transformers.Wav2Vec2Model, transformers.Wav2Vec2Config),
        "hubert": (transformers.HubertModel, transformers.HubertConfig),
        "wavlm": (transformers.WavLMModel, transformers.WavLMConfig),
    }
    folders = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for arch, (model, config) in kinds.items():
            folders[arch] = root / arch
            model(config(**ENCODER, **CONVOLUTIONS)).save_pretrained(folders[arch])
            transformers.Wav2Vec2FeatureExtractor(return_attention_mask=False).save_pretrained(folders[arch])
    return folders


def damaged_copy(folders, arch, tmp_path, damage):
    """A copy of the ``arch`` model damaged by ``damage(folder)``; returns what to give as ``model=`` and the file."""
    import shutil

    folder = shutil.copytree(folders[arch], tmp_path / arch)
    return damage(folder)


def truncated_safetensors(folder):
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder, weights


def damaged_pytorch_bin(folder):
    import torch
    from safetensors.torch import load_file

    weights = folder / "pytorch_model.bin"
    torch.save(load_file(folder / "model.safetensors"), weights)
    (folder / "model.safetensors").unlink()
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return folder, weights


def pytorch_bin_of_garbage(folder):
    weights = folder / "pytorch_model.bin"
    (folder / "model.safetensors").unlink()
    weights.write_bytes(b"\x80\x04 this is not a checkpoint")
    return folder, weights


def config_json_as_the_model(folder):
    return folder / "config.json", folder / "config.json"


def config_not_json(folder):
    (folder / "config.json").write_text('{"model_type": "hubert", ')
    return folder, folder / "config.json"


def weights_of_zero_bytes(folder):
    (folder / "model.safetensors").write_bytes(b"")
    return folder, folder / "model.safetensors"


def weights_of_another_model(folder):
    import torch
    from safetensors.torch import save_file

    save_file({"classifier.weight": torch.ones(2, 2)}, folder / "model.safetensors")
    return folder, folder / "model.safetensors"


CANNOT_BE_READ = r"the weights in '{file}' cannot be read \("
DAMAGES = {
    "truncated model.safetensors": (
        "wav2vec2", truncated_safetensors, CANNOT_BE_READ + r"SafetensorError: .*\); the file is damaged or incomplete"
    ),
    "damaged pytorch_model.bin": ("wav2vec2", damaged_pytorch_bin, CANNOT_BE_READ),
    "garbage pytorch_model.bin": (
        "wav2vec2", pytorch_bin_of_garbage, CANNOT_BE_READ + r"UnpicklingError: Weights only load failed\)"
    ),
    "model=config.json": (
        "wav2vec2", config_json_as_the_model,
        r"model='{file}' is a file: model= names the folder that save_pretrained wrote \(e\.g\. '{folder}', "
        r"the folder of this file\) or a Hugging Face Hub id\.",
    ),
    "HuBERT config.json not JSON": (
        "hubert", config_not_json, r"'{file}' cannot be read, it is not JSON \(JSONDecodeError: .*\); the file is"
    ),
    "WavLM weights of zero bytes": (
        "wavlm", weights_of_zero_bytes, CANNOT_BE_READ + r"SafetensorError: .*header too small\)"
    ),
    "weights of another model": (
        "wav2vec2", weights_of_another_model, r"'{file}' holds none of the Wav2Vec2Model's weights \(\d+ missing\)"
    ),
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")  # torch, reading the garbage
@pytest.mark.parametrize("case", DAMAGES)
def test_a_damaged_speech_model_names_its_folder_and_file(speech_models, tmp_path, case):
    import re

    from sklearn_ser.features import SpeechEmbedder
    from sklearn_ser.features._whisper import UnreadableWeightsError

    arch, damage, pattern = DAMAGES[case]
    model, file = damaged_copy(speech_models, arch, tmp_path, damage)
    with pytest.raises(UnreadableWeightsError) as info:
        SpeechEmbedder(model=model, device="cpu").fit([tone(300)])
    message = str(info.value)
    assert isinstance(info.value, OSError) and "\n" not in message
    assert message.startswith(f"model={str(model)!r}")
    assert re.search(pattern.format(file=re.escape(str(file)), folder=re.escape(str(file.parent))), message), message


def test_an_intact_speech_model_still_loads(speech_models):
    from sklearn_ser.features import SpeechEmbedder

    embedder = SpeechEmbedder(model=speech_models["wav2vec2"], device="cpu", layer=-1).fit([tone(300)])
    assert embedder.transform([tone(300)]).shape == (1, 16)


# --- synthetic:PATH and make_synthetic_corpus: announce what is made, never replace what is not its own -------------


def folder_state(root):
    """Every path below ``root`` with its bytes (None for a folder)."""
    return {
        path.relative_to(root).as_posix(): None if path.is_dir() else path.read_bytes()
        for path in sorted(root.rglob("*"))
    }


def small_corpus(root, random_state=0, emotions=("angry", "sad")):
    from sklearn_ser.datasets import make_synthetic_corpus

    return make_synthetic_corpus(root, n_speakers=1, n_words=2, emotions=emotions, sr=8000, random_state=random_state)


@pytest.fixture
def small_default_corpus(monkeypatch):
    """``synthetic:PATH`` writes a corpus of 4 files (1 speaker, 2 words, 2 emotions), not the default 560."""
    import sklearn_ser.datasets._registry as registry

    def make(root, n_speakers=1, n_words=2, emotions=("angry", "sad")):
        return small_corpus(root, emotions=emotions)

    monkeypatch.setattr(registry, "make_synthetic_corpus", make)


def test_a_new_synthetic_corpus_is_announced_once_and_an_existing_one_read_quietly(
    small_default_corpus, tmp_path, capsys
):
    typo = tmp_path / "synthtic"
    model = tmp_path / "model.joblib"
    args = ["fit", "--corpus", f"synthetic:{typo}", "--recipe", "svm-mfcc", "--out", str(model), "-q", "--no-cache"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"sklearn-ser fit: warning: No synthetic corpus in '{typo}' (no manifest.csv): writing a new one there, "
        "4 files. If you meant an existing corpus, check the path."
    ], err
    assert main(args) == 0
    assert "warning" not in capsys.readouterr().err


def test_the_library_warns_too_naming_the_default_size(tmp_path, monkeypatch):
    import functools

    import sklearn_ser.datasets._registry as registry
    from sklearn_ser.datasets import load_corpus, make_synthetic_corpus

    @functools.wraps(make_synthetic_corpus)  # its signature, its defaults: 4 speakers x 20 words x 7 emotions
    def make(root, **_):
        return small_corpus(root)

    monkeypatch.setattr(registry, "make_synthetic_corpus", make)
    with pytest.warns(UserWarning, match=r"No synthetic corpus in '.*new' \(no manifest\.csv\): .* 560 files\."):
        frame = load_corpus(f"synthetic:{tmp_path / 'new'}")
    assert len(frame) == 4


def recordings(root):
    """A user's folder of recordings, named as a synthetic corpus's files are, without a manifest."""
    import soundfile

    (root / "F01_angry").mkdir(parents=True)
    soundfile.write(root / "F01_angry" / "F01_hello_angry.wav", tone(300), SR)
    (root / "notes.txt").write_text("my recordings")
    return root


def test_synthetic_path_to_a_folder_of_recordings_is_refused_untouched(tmp_path, capsys):
    root = recordings(tmp_path / "recordings")
    before = folder_state(root)
    model = tmp_path / "model.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(model)]) == 1
    line = one_error_line(capsys)
    assert line == (
        f"sklearn-ser: error: {root} is not empty and holds no synthetic corpus (no manifest.csv written by "
        "make_synthetic_corpus; it holds 'F01_angry' and 1 more). A synthetic corpus is written only to a new or "
        "empty folder, or over a synthetic corpus: choose another folder; nothing was written."
    )
    assert folder_state(root) == before and not model.exists()


@pytest.mark.parametrize("holds", ["recordings", "user manifest", "empty subfolder"])
def test_make_synthetic_corpus_refuses_a_folder_that_is_not_its_own(tmp_path, holds):
    from sklearn_ser._file_kinds import NotOurFileError

    root = tmp_path / "corpus"
    if holds == "recordings":
        recordings(root)
    elif holds == "user manifest":  # a manifest for load_manifest, of the user's own files
        recordings(root)
        (root / "manifest.csv").write_text("path,label,speaker\nF01_angry/F01_hello_angry.wav,angry,F01\n")
    else:
        (root / "mine").mkdir(parents=True)
    before = folder_state(root)
    with pytest.raises(NotOurFileError, match=rf"^{root} is not empty and holds no synthetic corpus"):
        small_corpus(root)
    assert folder_state(root) == before


def test_a_corpus_with_a_users_file_beside_it_is_not_replaced(tmp_path):
    from sklearn_ser._file_kinds import NotOurFileError

    root = tmp_path / "corpus"
    small_corpus(root)
    (root / "F01_angry" / "my_take.wav").write_bytes(b"RIFF mine")
    before = folder_state(root)
    with pytest.raises(NotOurFileError, match=r"holds a synthetic corpus and other files, e\.g\. 'F01_angry/my_take"):
        small_corpus(root, random_state=1)
    assert folder_state(root) == before


def test_a_corpus_is_replaced_by_another_whole_with_none_of_its_old_files_left(tmp_path):
    root = tmp_path / "corpus"
    small_corpus(root, emotions=("angry", "sad"))
    frame = small_corpus(root, random_state=1, emotions=("happy", "sad"))
    listed = set(frame["path"])
    files = {str(path) for path in root.rglob("*") if path.is_file()}
    assert files == listed | {str(root / "manifest.csv")}
    assert sorted(path.name for path in root.iterdir()) == ["F01_happy", "F01_sad", "manifest.csv"]


def test_an_interrupted_corpus_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    """Own case: Ctrl-C halfway leaves the old corpus (or the empty folder) whole, and a rerun writes it."""
    import sklearn_ser.datasets._synthetic as synthetic

    root = tmp_path / "corpus"
    small_corpus(root)
    before = folder_state(root)
    real, calls = synthetic._synthesize, []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(synthetic, "_synthesize", interrupted)
    with pytest.raises(KeyboardInterrupt):
        small_corpus(root, random_state=1)
    assert folder_state(root) == before
    empty = tmp_path / "empty"
    empty.mkdir()
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        small_corpus(empty)
    assert list(empty.iterdir()) == []
    monkeypatch.setattr(synthetic, "_synthesize", real)
    assert len(small_corpus(empty)) == 4


def test_a_file_in_place_of_the_corpus_folder_is_refused(tmp_path):
    path = tmp_path / "corpus"
    path.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="exists and is not a folder"):
        small_corpus(path)
    assert path.read_text() == "not a folder"
