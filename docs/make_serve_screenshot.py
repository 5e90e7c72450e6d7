"""Make the screenshot of the page of ``sklearn-ser serve`` that the user guide shows.

Fits a small svm-mfcc on the two-second windows of a synthetic corpus in a
temporary folder (``sklearn-ser fit --window 2``), serves the model file
with :func:`sklearn_ser.serve.create_app` under uvicorn on 127.0.0.1, opens
the page in headless Chromium at a desktop size, uploads a synthetic
recording long enough for a timeline, waits for the result and saves a PNG
of the whole page.

Needs the ``serve`` extra, selenium, and Chromium with its driver (Debian:
``apt-get install chromium chromium-driver``); nothing is downloaded.

Usage::

    python docs/make_serve_screenshot.py [OUT.png] [--width 1100]
"""

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile

DEFAULT_OUT = Path(__file__).resolve().parent / "user_guide" / "figures" / "serve_page.png"
EMOTIONS = ("angry", "happy", "neutral", "sad")
# The recording: one speaker's utterances in this order of emotions, with pauses between them.
SCRIPT = ("neutral", "neutral", "happy", "happy", "happy", "angry", "angry", "angry", "sad", "sad", "sad", "neutral")
TIMEOUT = 60


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT, help=f"the PNG to write ({DEFAULT_OUT})")
    parser.add_argument("--width", type=int, default=1100, help="the page's width in CSS pixels")
    args = parser.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    if not (chromium and chromedriver):
        parser.error("no Chromium: install Debian's chromium and chromium-driver")

    with tempfile.TemporaryDirectory(prefix="serve-screenshot-") as folder:
        model, recording = _model_and_recording(Path(folder))
        png = _screenshot(model, recording, chromium, chromedriver, args.width)
    from sklearn_ser._files import atomic_write

    atomic_write(args.out, lambda file: file.write(png), replaces="figure")
    print(f"wrote {args.out} ({len(png)} bytes)")
    return 0


def _model_and_recording(folder):
    """A model file fitted as ``sklearn-ser fit --window 2 --hop 1`` fits one, and a recording of one speaker."""
    from sklearn_ser.cli import main as sklearn_ser
    from sklearn_ser.datasets import make_synthetic_corpus

    corpus = make_synthetic_corpus(folder / "corpus", n_speakers=2, n_words=6, emotions=EMOTIONS, random_state=0)
    model = folder / "model.joblib"
    fit = ["fit", "--corpus", f"synthetic:{folder / 'corpus'}", "--recipe", "svm-mfcc", "--set", "probability=True"]
    options = ["--window", "2", "--hop", "1", "--random-state", "0", "--n-jobs", "1", "--no-cache", "-q"]
    if sklearn_ser([*fit, *options, "--out", str(model)]) != 0:
        raise RuntimeError("sklearn-ser fit failed")
    speaker = corpus[corpus["speaker"] == corpus["speaker"].iloc[0]]
    pools = {emotion: list(speaker.loc[speaker["label"] == emotion, "path"]) for emotion in EMOTIONS}
    pause = np.zeros(8000, dtype=np.float32)
    pieces = []
    for index, emotion in enumerate(SCRIPT):
        path = pools[emotion][index % len(pools[emotion])]
        pieces += [soundfile.read(path, dtype="float32")[0], pause]
    recording = folder / "recording.wav"
    soundfile.write(recording, np.concatenate(pieces), 16000, subtype="PCM_16")
    return model, recording


def _screenshot(model, recording, chromium, chromedriver, width):
    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from sklearn_ser.serve import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(model), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--mute-audio"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},900")
    driver = None
    try:
        deadline = time.monotonic() + TIMEOUT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(driver, TIMEOUT)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#classes li"))
        driver.find_element(By.ID, "file").send_keys(str(recording))
        wait.until(
            lambda d: (
                d.find_element(By.ID, "message").text
                or d.find_element(By.ID, "timeline").get_attribute("data-rows") != "0"
            )
        )
        message = driver.find_element(By.ID, "message").text
        if message:
            raise RuntimeError(f"the page refused the recording: {message}")
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.5)  # the timeline is redrawn after the resize
        return driver.get_screenshot_as_png()
    finally:
        if driver is not None:
            driver.quit()
        server.should_exit = True
        thread.join(TIMEOUT)


if __name__ == "__main__":
    sys.exit(main())
