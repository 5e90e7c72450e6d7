"""The HTTP service: every endpoint, every bad request, the limits, concurrency and its temporary files."""

import io
import os
import socket
import tempfile
import threading
import time
from contextlib import contextmanager

import joblib
import numpy as np
import pytest
import soundfile
from sklearn.base import BaseEstimator, ClassifierMixin

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from sklearn_ser import __version__  # noqa: E402
from sklearn_ser._predict import predict_files  # noqa: E402
from sklearn_ser.cli import build_parser  # noqa: E402
from sklearn_ser.datasets import make_synthetic_corpus  # noqa: E402
from sklearn_ser.recipes import get_recipe  # noqa: E402
from sklearn_ser.serve import create_app  # noqa: E402
from sklearn_ser.timeline import predict_timeline  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve_corpus")
    return make_synthetic_corpus(root, n_speakers=2, n_words=3, emotions=("angry", "sad", "happy"), random_state=0)


@pytest.fixture(scope="module")
def model(corpus):
    return get_recipe("svm-mfcc", probability=True, random_state=0).fit(corpus["path"], corpus["label"])


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model, max_upload_bytes=2**20, max_duration=20.0)) as client:
        yield client


@pytest.fixture(scope="module")
def recording(corpus, tmp_path_factory):
    """A 9-second recording: three utterances with pauses between them."""
    sr = 16000
    pieces = []
    for path in corpus["path"][:3]:
        y, _ = soundfile.read(path, dtype="float32")
        pieces += [y, np.zeros(sr, dtype=np.float32)]
    path = tmp_path_factory.mktemp("serve_recording") / "recording.wav"
    soundfile.write(path, np.concatenate(pieces), sr)
    return path


def _upload(path, name=None, field="files"):
    return (field, (name or os.path.basename(path), open(path, "rb"), "audio/wav"))


def _bytes_upload(data, name, field="files"):
    return (field, (name, io.BytesIO(data), "audio/wav"))


def _truncated_wav(path):
    data = open(path, "rb").read()
    return data[: len(data) // 3]


# --- GET ------------------------------------------------------------------------------------------------------------


def test_health_and_model_describe_the_service(client, model):
    assert client.get("/health").json() == {"status": "ok"}
    described = client.get("/model").json()
    assert described["classes"] == list(model.classes_)
    assert described["sr"] == 16000 and described["version"] == __version__
    assert described["wants_speaker"] is False and described["probabilities"] is True
    assert described["limits"]["max_upload_bytes"] == 2**20 and described["limits"]["max_duration_seconds"] == 20.0
    assert described["timeline"] == {"window": 2.0, "hop": 1.0}


def test_a_model_file_written_by_fit_names_its_recipe_and_is_loaded_once(tmp_path, corpus):
    from sklearn_ser.cli import main

    root = os.path.dirname(os.path.dirname(corpus["path"][0]))
    path = tmp_path / "model.joblib"
    assert main(["fit", "--corpus", f"synthetic:{root}", "--recipe", "svm-mfcc", "--out", str(path), "-q"]) == 0
    app = create_app(path)
    path.write_bytes(b"replaced after the start")
    with TestClient(app) as client:
        assert client.get("/model").json()["recipe"] == "svm-mfcc"
        answer = client.post("/predict", files=[_upload(corpus["path"][0])])
    assert answer.status_code == 200 and answer.json()["predictions"][0]["label"] in {"angry", "sad", "happy"}


def test_the_openapi_documentation_describes_the_uploads(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    predict_body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert "files" in predict_body["schema"]["properties"]
    assert (
        "file"
        in schema["paths"]["/timeline"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]
    )


# --- POST /predict --------------------------------------------------------------------------------------------------


def test_predict_gives_the_models_labels_and_probabilities(client, model, corpus):
    paths = list(corpus["path"][:3])
    answer = client.post("/predict", files=[_upload(path) for path in paths])
    assert answer.status_code == 200
    predictions = answer.json()["predictions"]
    assert [entry["file"] for entry in predictions] == [os.path.basename(path) for path in paths]
    assert [entry["label"] for entry in predictions] == list(model.predict(paths))
    expected = model.predict_proba(paths)
    for entry, row in zip(predictions, expected):
        assert [entry["probabilities"][label] for label in model.classes_] == pytest.approx(row, abs=1e-9)


@pytest.mark.parametrize(
    "bad, reason",
    [
        (b"", "empty"),
        (b"these are notes, not audio\n", "text named .wav"),
        (None, "truncated WAV"),
    ],
)
def test_a_file_that_cannot_be_read_is_an_error_entry_and_the_others_are_predicted(client, corpus, bad, reason):
    data = _truncated_wav(corpus["path"][1]) if bad is None else bad
    answer = client.post("/predict", files=[_upload(corpus["path"][0]), _bytes_upload(data, "bad.wav")])
    assert answer.status_code == 200, reason
    good, failed = answer.json()["predictions"]
    assert "label" in good and failed["file"] == "bad.wav" and failed["error"]
    assert tempfile.gettempdir() not in failed["error"], "the server's paths are not shown"


def test_no_readable_file_at_all_is_a_422_naming_it(client):
    answer = client.post("/predict", files=[_bytes_upload(b"text", "notes.wav")])
    assert answer.status_code == 422
    assert "notes.wav" in answer.json()["error"] and answer.json()["predictions"][0]["file"] == "notes.wav"


@pytest.mark.parametrize(
    "request_kwargs, status, message",
    [
        ({}, 400, "Expected multipart/form-data"),
        ({"json": {"files": "a.wav"}}, 400, "Expected multipart/form-data"),
        ({"data": {"speaker": "F01"}, "files": [("other", ("x.txt", b"x", "text/plain"))]}, 400, "'other'"),
        ({"files": [("file", ("a.wav", b"RIFF", "audio/wav"))]}, 400, "send the audio as the field 'files'"),
        ({"data": {"model": "/etc/passwd"}, "files": [("files", ("a.wav", b"x", "audio/wav"))]}, 400, "'model'"),
        ({"data": {"speaker": "F01"}, "files": [("files", ("a.wav", b"x", "audio/wav"))]}, 422, "speaker"),
    ],
)
def test_bad_requests_get_a_json_error_naming_the_problem(client, request_kwargs, status, message):
    answer = client.post("/predict", **request_kwargs)
    assert answer.status_code == status
    assert message in answer.json()["error"]


def test_a_request_without_any_file_is_refused(client):
    answer = client.post("/predict", data={"x": "1"}, files=[])
    assert answer.status_code == 400


def test_an_upload_over_the_size_limit_is_a_413_whether_declared_or_streamed(client):
    big = b"\0" * (2**20 + 10)
    declared = client.post("/predict", files=[_bytes_upload(big, "big.wav")])
    assert declared.status_code == 413 and "limit of 1 MB" in declared.json()["error"]
    part = b'--b\r\nContent-Disposition: form-data; name="files"; filename="big.wav"\r\n\r\n'
    body = part + big + b"\r\n--b--\r\n"

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    streamed = client.post("/predict", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"})
    assert streamed.status_code == 413


def test_audio_longer_than_the_duration_limit_is_refused(model, recording):
    with TestClient(create_app(model, max_duration=5.0)) as client:
        predicted = client.post("/predict", files=[_upload(recording)])
        timeline = client.post("/timeline", files=[_upload(recording, field="file")])
    assert predicted.status_code == 422
    assert "longer than the service's limit of 5 s" in predicted.json()["predictions"][0]["error"]
    assert timeline.status_code == 413 and "longer than the service's limit of 5 s" in timeline.json()["error"]


def test_a_per_speaker_model_takes_the_speaker(per_speaker_svm):
    path, pipeline, files, _ = per_speaker_svm
    with TestClient(create_app(path)) as client:
        assert client.get("/model").json()["wants_speaker"] is True
        answer = client.post("/predict", data={"speaker": "F03"}, files=[_upload(file) for file in files[:3]])
    expected, _ = predict_files(pipeline, files[:3], speaker="F03")
    assert [entry["label"] for entry in answer.json()["predictions"]] == list(expected["label"])


# --- POST /timeline -------------------------------------------------------------------------------------------------


def test_timeline_gives_the_rows_of_predict_timeline_and_the_speech(client, model, recording):
    answer = client.post("/timeline", data={"window": "2", "hop": "1"}, files=[_upload(recording, field="file")])
    assert answer.status_code == 200
    body = answer.json()
    expected = predict_timeline(model, recording, window=2.0, hop=1.0)
    assert [row["start"] for row in body["rows"]] == list(expected["start"])
    assert [row["label"] for row in body["rows"]] == [None if label is None else label for label in expected["label"]]
    assert body["duration"] == pytest.approx(soundfile.info(recording).duration)
    assert body["speech"] and all(0 <= s["start"] < s["end"] <= body["duration"] + 1e-6 for s in body["speech"])
    assert all((row["probabilities"] is None) == (not row["speech"]) for row in body["rows"])


@pytest.mark.parametrize(
    "data, status, message",
    [
        ({"window": "-1"}, 422, "window must be a positive number"),
        ({"hop": "abc"}, 422, "hop must be a number"),
        ({"vad": "loud"}, 422, "vad must be one of"),
        ({"window": "0.5", "hop": "1"}, 422, "hop"),
    ],
)
def test_timeline_parameters_are_checked(client, recording, data, status, message):
    answer = client.post("/timeline", data=data, files=[_upload(recording, field="file")])
    assert answer.status_code == status and message in answer.json()["error"]


def test_timeline_takes_one_recording(client, recording):
    answer = client.post("/timeline", files=[_upload(recording, field="file"), _upload(recording, field="file")])
    assert answer.status_code == 400 and "one recording" in answer.json()["error"]


# --- The service as a whole -----------------------------------------------------------------------------------------


def test_no_cors_unless_asked_for(model):
    with TestClient(create_app(model)) as client:
        plain = client.get("/health", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in plain.headers
    with TestClient(create_app(model, cors_origins=["https://lab.example"])) as client:
        allowed = client.get("/health", headers={"Origin": "https://lab.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://lab.example"


def test_the_command_listens_on_this_machine_only_by_default():
    args = build_parser().parse_args(["serve", "model.joblib"])
    assert args.host == "127.0.0.1" and args.port == 8000


@pytest.mark.parametrize(
    "limits, message",
    [({"max_upload_bytes": 0}, "max_upload_bytes"), ({"max_concurrent": 1.5}, "max_concurrent")],
)
def test_limits_must_be_positive(model, limits, message):
    with pytest.raises(ValueError, match=message):
        create_app(model, **limits)


def test_a_model_that_cannot_serve_is_refused_at_start(tmp_path):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    table_model = make_pipeline(StandardScaler(), SVC()).fit(np.random.default_rng(0).normal(size=(8, 3)), [0, 1] * 4)
    joblib.dump(table_model, tmp_path / "table.joblib")
    with pytest.raises(ValueError, match="does not read audio"):
        create_app(tmp_path / "table.joblib")


def test_temporary_files_are_removed_after_every_request_and_nothing_is_written_elsewhere(
    model, corpus, tmp_path, monkeypatch
):
    system_temporary = tmp_path / "system-tmp"
    system_temporary.mkdir()
    own = tmp_path / "service-tmp"
    app = create_app(model, temporary_folder=own, max_upload_bytes=2**20)
    monkeypatch.setattr(tempfile, "tempdir", str(system_temporary))
    big = b"\0" * (2**20 + 10)
    with TestClient(app) as client:
        client.post("/predict", files=[_upload(corpus["path"][0]), _upload(corpus["path"][1])])
        client.post("/predict", files=[_bytes_upload(b"junk", "junk.wav")])
        client.post("/predict", files=[_bytes_upload(big, "big.wav")])
        client.post("/timeline", data={"window": "-2"}, files=[_upload(corpus["path"][0], field="file")])
        client.post("/predict", files=[_upload(corpus["path"][0], name="../../escape.wav")])
    assert list(own.iterdir()) == []
    assert list(system_temporary.iterdir()) == []
    assert not (tmp_path.parent / "escape.wav").exists()


# --- A real server: concurrency, slow predictions, clients that go away ---------------------------------------------


class SlowClassifier(ClassifierMixin, BaseEstimator):
    """A fitted classifier's predictions, each call taking ``seconds``."""

    def __init__(self, estimator=None, seconds=1.0):
        self.estimator = estimator
        self.seconds = seconds

    def fit(self, X, y):
        self.estimator.fit(X, y)
        self.classes_ = self.estimator.classes_
        return self

    def predict_proba(self, X):
        time.sleep(self.seconds)
        return self.estimator.predict_proba(X)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


@pytest.fixture(scope="module")
def slow_model(corpus):
    from sklearn.svm import SVC

    pipeline = get_recipe("svm-mfcc", probability=True, random_state=0)
    pipeline.steps[-1] = ("slow", SlowClassifier(SVC(probability=True, random_state=0), seconds=1.5))
    return pipeline.fit(corpus["path"], corpus["label"])


@contextmanager
def running(app):
    """``app`` served by uvicorn on 127.0.0.1, on a free port; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


def test_health_answers_while_a_slow_prediction_runs_and_a_full_queue_gets_503(slow_model, corpus, tmp_path):
    app = create_app(slow_model, max_concurrent=1, queue_timeout=0.5, temporary_folder=tmp_path / "tmp")
    results = {}
    with running(app) as url:

        def post(key):
            with open(corpus["path"][0], "rb") as audio:
                results[key] = httpx.post(f"{url}/predict", files={"files": ("a.wav", audio)}, timeout=30)

        first = threading.Thread(target=post, args=("first",))
        first.start()
        time.sleep(0.5)
        started = time.perf_counter()
        assert httpx.get(f"{url}/health", timeout=5).json() == {"status": "ok"}
        assert time.perf_counter() - started < 0.5, "/health waited for the prediction"
        post("second")
        first.join()
    assert results["first"].status_code == 200
    assert results["second"].status_code == 503 and "busy" in results["second"].json()["error"]
    assert list((tmp_path / "tmp").iterdir()) == []


def test_concurrent_requests_are_all_answered_and_agree_with_the_model(model, corpus):
    paths = list(corpus["path"][:8])
    expected = dict(zip(map(os.path.basename, paths), model.predict(paths)))
    answers = []
    with running(create_app(model, max_concurrent=2)) as url:

        def post(path):
            with open(path, "rb") as audio:
                answers.append(httpx.post(f"{url}/predict", files={"files": (os.path.basename(path), audio)}))

        threads = [threading.Thread(target=post, args=(path,)) for path in paths * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == 16 and all(answer.status_code == 200 for answer in answers)
    for answer in answers:
        (entry,) = answer.json()["predictions"]
        assert entry["label"] == expected[entry["file"]]


def test_a_client_that_goes_away_mid_upload_leaves_nothing_and_the_service_goes_on(model, corpus, tmp_path):
    folder = tmp_path / "tmp"
    with running(create_app(model, temporary_folder=folder)) as url:
        port = int(url.rsplit(":", 1)[1])
        head = (
            "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
            'Content-Length: 1000000\r\n\r\n--b\r\nContent-Disposition: form-data; name="files"; '
            'filename="a.wav"\r\n\r\n'
        ).encode()
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(head + b"\0" * 200000)
            time.sleep(0.5)
        deadline = time.monotonic() + 10
        while list(folder.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(folder.iterdir()) == []
        with open(corpus["path"][0], "rb") as audio:
            assert httpx.post(f"{url}/predict", files={"files": ("a.wav", audio)}).status_code == 200


def test_the_callers_model_is_left_as_it_was(corpus):
    model = get_recipe("svm-mfcc", probability=True, memory=tempfile.mkdtemp(), n_jobs=2).fit(
        corpus["path"], corpus["label"]
    )
    before = model.get_params(deep=True)
    app = create_app(model)
    assert app.state.served.pipeline.get_params(deep=True)["mfcc__memory"] is None
    assert all(before[key] is value or before[key] == value for key, value in model.get_params(deep=True).items())


def test_a_per_speaker_timeline_takes_the_speaker_on_a_copy_of_the_model(per_speaker_svm, recording):
    path, pipeline, _, _ = per_speaker_svm
    app = create_app(path)
    with TestClient(app) as client:
        answer = client.post("/timeline", data={"speaker": "NEW"}, files=[_upload(recording, field="file")])
    assert answer.status_code == 200
    expected = predict_timeline(pipeline, recording, speaker="NEW")
    assert [row["label"] for row in answer.json()["rows"]] == list(expected["label"])
    normalizers = [step for _, step in app.state.served.pipeline.steps if hasattr(step, "speaker_statistics_")]
    assert normalizers and all("NEW" not in step.speaker_statistics_ for step in normalizers)
