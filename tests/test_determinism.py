"""Determinism: the same random_state gives the same model, in this process and in fresh ones.

Fitting a neural recipe twice with the same seed, in this process or in two
fresh interpreters, gives bitwise identical probabilities on the CPU, as long
as torch uses the same number of threads: a different thread count can change
the order of floating-point sums and so the last bits (tested below).
Reloading a saved model gives identical probabilities (tests/test_recipes.py
and tests/test_lstm.py); here, a clone of a reloaded model refits to the same
model, and a file's probabilities do not depend on the other files of its batch.
"""

import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.recipes import get_recipe

RECIPES = ("lstm-logmel", "paper-proposed")
SEED_OPTIONS = dict(max_epochs=2, random_state=0)

FIT_IN_A_FRESH_PROCESS = """
import json, sys
import numpy as np
import torch

torch.set_num_threads(int(sys.argv[3]))
from sklearn_ser.recipes import get_recipe

with open(sys.argv[1], encoding="utf-8") as fh:
    paths, labels = json.load(fh)
options = json.loads(sys.argv[4])
probabilities = {
    name: get_recipe(name, **options).fit(paths, labels).predict_proba(paths) for name in sys.argv[5:]
}
np.savez(sys.argv[2], **probabilities)
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    frame = make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad", "neutral"), random_state=0)
    return list(frame["path"]), list(frame["label"])


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Each recipe fitted in two fresh interpreters and, meanwhile, in this one.

    Returns the fitted pipelines of this process (one torch thread, as set by
    conftest), the probabilities of the two fresh processes (one thread
    each), and those of a fit here with two threads.
    """
    folder = tmp_path_factory.mktemp("processes")
    data = folder / "corpus.json"
    data.write_text(json.dumps(corpus), encoding="utf-8")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    outputs = [folder / f"run{i}.npz" for i in range(2)]
    options = json.dumps(SEED_OPTIONS)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FIT_IN_A_FRESH_PROCESS, str(data), str(out), "1", options, *RECIPES], env=env
        )
        for out in outputs
    ]
    try:
        fitted = {name: get_recipe(name, **SEED_OPTIONS).fit(*corpus) for name in RECIPES}
        for process in processes:
            assert process.wait(timeout=300) == 0
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    # Two threads only once the other processes are done: OpenMP threads that
    # busy-wait beside other processes on the same cores slow everything down.
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two_threads = {name: get_recipe(name, **SEED_OPTIONS).fit(*corpus).predict_proba(corpus[0]) for name in RECIPES}
    finally:
        torch.set_num_threads(threads)
    fresh = []
    for out in outputs:
        with np.load(out) as saved:
            fresh.append({name: saved[name] for name in RECIPES})
    return fitted, fresh, two_threads


@pytest.fixture(scope="module")
def fitted(runs):
    return runs[0]


@pytest.mark.parametrize("name", RECIPES)
def test_same_seed_same_probabilities_in_this_and_fresh_processes(runs, corpus, name):
    paths, labels = corpus
    fitted, fresh, _ = runs
    expected = fitted[name].predict_proba(paths)
    for probabilities in fresh:
        np.testing.assert_array_equal(probabilities[name], expected)
    np.testing.assert_array_equal(get_recipe(name, **SEED_OPTIONS).fit(paths, labels).predict_proba(paths), expected)


@pytest.mark.parametrize("name", RECIPES)
def test_another_thread_count_changes_only_the_last_bits(runs, corpus, name):
    fitted, _, two_threads = runs
    np.testing.assert_allclose(two_threads[name], fitted[name].predict_proba(corpus[0]), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", RECIPES)
def test_the_seed_reaches_the_network(fitted, corpus, name):
    paths, labels = corpus
    other = get_recipe(name, **{**SEED_OPTIONS, "random_state": 1}).fit(paths, labels).predict_proba(paths)
    assert not np.array_equal(other, fitted[name].predict_proba(paths))


@pytest.mark.parametrize("name", RECIPES)
def test_a_clone_of_a_reloaded_model_refits_identically(fitted, corpus, name, tmp_path):
    paths, labels = corpus
    joblib.dump(fitted[name], tmp_path / "model.joblib")
    reloaded = joblib.load(tmp_path / "model.joblib")
    refitted = clone(reloaded).fit(paths, labels)
    np.testing.assert_array_equal(refitted.predict_proba(paths), fitted[name].predict_proba(paths))


@pytest.mark.parametrize("name", RECIPES)
def test_a_files_probabilities_do_not_depend_on_its_batch(fitted, corpus, name):
    paths, _ = corpus
    model = fitted[name]
    together = model.predict_proba(paths)
    np.testing.assert_array_equal(model.predict_proba(paths), together)
    alone = np.concatenate([model.predict_proba([path]) for path in paths])
    np.testing.assert_allclose(alone, together, rtol=1e-5, atol=1e-7)
    reordered = model.predict_proba(paths[::-1])[::-1]
    np.testing.assert_allclose(reordered, together, rtol=1e-5, atol=1e-7)
