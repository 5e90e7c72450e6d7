"""The served page in a real browser: headless Chromium driven by Selenium against the real app under uvicorn.

One server (a small svm-mfcc with probabilities, uploads limited to 1 MB)
and one browser serve the whole module. The browser's fake microphone plays
a synthetic recording, so that recording goes through getUserMedia, the Web
Audio capture and the page's own WAV encoding.
"""

import base64
import shutil
import threading
import time

import numpy as np
import pytest
import soundfile

pytest.importorskip("fastapi")
pytest.importorskip("python_multipart")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")
pytest.importorskip("selenium")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("no Chromium: install Debian's chromium and chromium-driver", allow_module_level=True)

MAX_UPLOAD_BYTES = 1_000_000
DESKTOP = (1200, 1000)
RECORD_SECONDS = 5.5
TIMEOUT = 30


class _Server:
    """An ASGI app under uvicorn in a thread of this process, on a free port of 127.0.0.1."""

    def __init__(self, app):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + TIMEOUT
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(TIMEOUT)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The fitted model, the running server's URL and the audio files the tests upload or record."""
    from sklearn_ser.datasets import make_synthetic_corpus
    from sklearn_ser.recipes import get_recipe
    from sklearn_ser.serve import create_app

    root = tmp_path_factory.mktemp("serve_browser")
    corpus = make_synthetic_corpus(
        root / "corpus", n_speakers=2, n_words=2, emotions=("angry", "sad", "happy"), random_state=0
    )
    model = get_recipe("svm-mfcc", probability=True, random_state=0).fit(corpus["path"], corpus["label"])
    paths = list(corpus["path"])
    utterances = [soundfile.read(path, dtype="float32")[0] for path in paths[:8]]
    pause = np.zeros(8000, dtype=np.float32)
    files = {
        "short": paths[0],
        "long": root / "long.wav",  # about 18 s: long enough for a timeline, under the upload limit
        "microphone": root / "microphone.wav",  # what the fake microphone plays, looped
        "text": root / "notes.wav",
        "big": root / "big.wav",
    }
    soundfile.write(files["long"], np.concatenate([np.concatenate([u, pause]) for u in utterances]), 16000, "PCM_16")
    soundfile.write(
        files["microphone"], np.concatenate([np.concatenate([u, pause]) for u in utterances[:4]]), 16000, "PCM_16"
    )
    files["text"].write_text("These are my notes, not a recording.\n" * 20)
    noise = np.random.default_rng(0).normal(0, 0.1, 40 * 16000).astype(np.float32)
    soundfile.write(files["big"], noise, 16000, "PCM_16")  # 1.28 MB
    app = create_app(model, max_upload_bytes=MAX_UPLOAD_BYTES, max_concurrent=1)
    with _Server(app) as server:
        yield {"model": model, "url": server.url, "files": {key: str(path) for key, path in files.items()}}


@pytest.fixture(scope="module")
def browser(served):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--mute-audio",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={served['files']['microphone']}",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser, served):
    """The page freshly loaded at a desktop size, once it has described the model."""
    browser.set_window_size(*DESKTOP)
    browser.get(served["url"])
    WebDriverWait(browser, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#classes li"))
    return browser


def _upload(driver, path):
    driver.find_element(By.ID, "file").send_keys(path)


def _wait_done(driver, *, timeline=False):
    """Wait until the page is no longer busy and shows a label (and a drawn timeline) or a message."""

    def done(d):
        if d.find_element(By.ID, "result").get_attribute("aria-busy") != "false":
            return False
        if d.find_element(By.ID, "message").text:
            return True
        drawn = d.find_element(By.ID, "timeline").get_attribute("data-rows") != "0"
        return bool(d.find_element(By.ID, "label").text) and (drawn or not timeline)

    WebDriverWait(driver, TIMEOUT).until(done)
    assert driver.find_element(By.ID, "message").text == ""


def _bars(driver):
    return {
        bar.get_attribute("data-class"): (float(bar.get_attribute("data-probability")), bar.text)
        for bar in driver.find_elements(By.CSS_SELECTOR, "#bars [data-class]")
    }


def _check_bars(driver, probabilities):
    bars = _bars(driver)
    assert set(bars) == set(probabilities)
    for name, (shown, text) in bars.items():
        assert shown == pytest.approx(probabilities[name], abs=1e-3)
        assert f"{100 * probabilities[name]:.1f}%" in text


def _model_probabilities(model, path):
    return dict(zip(map(str, model.classes_), model.predict_proba([path])[0]))


def _painted_fraction(driver):
    return driver.execute_script(
        "const c = document.getElementById('timeline');"
        "const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let painted = 0; for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted += 1;"
        "return painted / (c.width * c.height);"
    )


def test_uploaded_file_shows_the_models_label_and_probabilities(page, served):
    model, path = served["model"], served["files"]["short"]
    _upload(page, path)
    _wait_done(page)
    assert page.find_element(By.ID, "label").text == str(model.predict([path])[0])
    _check_bars(page, _model_probabilities(model, path))
    assert page.find_element(By.ID, "label").text in page.find_element(By.ID, "announce").text
    assert not page.find_element(By.ID, "timeline").is_displayed()  # a short file gets no timeline


@pytest.mark.parametrize("capture", ["audio-worklet", "script-processor"])
def test_recording_from_the_microphone_is_encoded_predicted_and_drawn(page, served, tmp_path, capture):
    if capture == "script-processor":  # the fallback of browsers without AudioWorklet
        page.execute_script("delete window.AudioWorkletNode;")
    page.find_element(By.ID, "record").click()
    WebDriverWait(page, TIMEOUT).until(lambda d: d.find_element(By.ID, "record").get_attribute("data-capture"))
    assert page.find_element(By.ID, "record").get_attribute("data-capture") == capture
    assert page.find_element(By.ID, "stop").is_enabled()
    time.sleep(RECORD_SECONDS)
    page.find_element(By.ID, "stop").click()
    _wait_done(page, timeline=True)

    # The page's own WAV, as it was uploaded: 16-bit PCM mono at the model's rate, predicted as the page shows.
    encoded = page.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(document.getElementById('playback').src).then((r) => r.arrayBuffer()).then((buffer) => {"
        "  let text = ''; const bytes = new Uint8Array(buffer);"
        "  for (let i = 0; i < bytes.length; i += 1) text += String.fromCharCode(bytes[i]);"
        "  done(btoa(text)); });"
    )
    recording = tmp_path / "recording.wav"
    recording.write_bytes(base64.b64decode(encoded))
    info = soundfile.info(recording)
    assert (info.format, info.subtype, info.channels, info.samplerate) == ("WAV", "PCM_16", 1, 16000)
    assert RECORD_SECONDS - 1 < info.duration < RECORD_SECONDS + 3
    samples, _ = soundfile.read(recording)
    assert np.abs(samples).max() > 0.05  # the fake microphone's speech, not silence

    model = served["model"]
    assert page.find_element(By.ID, "label").text == str(model.predict([str(recording)])[0])
    _check_bars(page, _model_probabilities(model, str(recording)))
    canvas = page.find_element(By.ID, "timeline")
    assert canvas.is_displayed() and int(canvas.get_attribute("data-rows")) >= 3
    assert _painted_fraction(page) > 0.1


def test_long_file_draws_the_servers_timeline(page, served):
    path = served["files"]["long"]
    with open(path, "rb") as audio:
        expected = httpx.post(served["url"] + "timeline", files={"file": ("long.wav", audio)}, timeout=TIMEOUT)
    assert expected.status_code == 200
    _upload(page, path)
    _wait_done(page, timeline=True)
    canvas = page.find_element(By.ID, "timeline")
    rows = expected.json()["rows"]
    assert int(canvas.get_attribute("data-rows")) == len(rows) > 10
    assert float(canvas.get_attribute("data-duration")) == pytest.approx(expected.json()["duration"], abs=0.1)
    assert _painted_fraction(page) > 0.1
    assert f"{len(rows)} windows" in page.find_element(By.ID, "timeline-summary").text


@pytest.mark.parametrize(("name", "status"), [("text", 422), ("big", 413)])
def test_refused_upload_shows_the_servers_message(page, served, name, status):
    path = served["files"][name]
    with open(path, "rb") as audio:
        expected = httpx.post(served["url"] + "predict", files={"files": (path.split("/")[-1], audio)})
    assert expected.status_code == status
    _upload(page, path)
    WebDriverWait(page, TIMEOUT).until(
        lambda d: (
            d.find_element(By.ID, "message").text
            and d.find_element(By.ID, "result").get_attribute("aria-busy") == "false"
        )
    )
    message = page.find_element(By.ID, "message")
    assert message.get_attribute("role") == "alert"
    assert expected.json()["error"] in message.text
    assert page.find_element(By.ID, "label").text == ""
    assert _bars(page) == {}


def test_phone_width_fits_without_horizontal_scrolling(browser, served):
    browser.set_window_size(360, 740)
    try:
        browser.get(served["url"])
        WebDriverWait(browser, TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#classes li"))
        _upload(browser, served["files"]["long"])
        _wait_done(browser, timeline=True)
        width, scroll_width = browser.execute_script("return [window.innerWidth, document.documentElement.scrollWidth]")
        assert width <= 400
        assert scroll_width <= width
        for element_id in ("file", "record", "stop", "label", "bars", "timeline"):
            box = browser.find_element(By.ID, element_id).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, element_id
        for element_id in ("file", "record", "stop"):
            assert browser.find_element(By.ID, element_id).rect["height"] >= 44, element_id  # a finger's size
    finally:
        browser.set_window_size(*DESKTOP)


@pytest.fixture(scope="module")
def per_speaker_url(per_speaker_svm):
    from sklearn_ser.serve import create_app

    with _Server(create_app(per_speaker_svm[0])) as server:  # served from the model file
        yield server.url


@pytest.mark.filterwarnings("ignore:Speaker 'F01' has 1 file")
def test_per_speaker_model_asks_for_the_speaker_and_sends_it(browser, per_speaker_url, per_speaker_svm):
    from sklearn_ser._predict import predict_files

    _, pipeline, _, train = per_speaker_svm
    path = str(train.loc[train["speaker"] == "F01", "path"].iloc[0])
    browser.set_window_size(*DESKTOP)
    browser.get(per_speaker_url)
    speaker = browser.find_element(By.ID, "speaker")
    WebDriverWait(browser, TIMEOUT).until(lambda d: speaker.is_displayed())
    speaker.send_keys("F01")
    _upload(browser, path)
    _wait_done(browser)
    expected, _ = predict_files(pipeline, [path], speaker="F01")
    assert browser.find_element(By.ID, "label").text == str(expected["label"][0])
    _check_bars(browser, {str(label): expected[f"prob_{label}"][0] for label in pipeline.classes_})


def test_model_without_speakers_hides_the_speaker_field(page):
    assert not page.find_element(By.ID, "speaker").is_displayed()
