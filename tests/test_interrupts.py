"""Ctrl-C stops training, the fit and search commands, and the search: nothing half-done is saved."""

import os
import signal
import subprocess
import sys

import numpy as np
import optuna
import pytest

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.model_selection import OptunaSearch, make_storage
from sklearn_ser.models import LSTMClassifier

from .conftest import sigint_as_in_a_terminal
from .test_lstm import gaussian_sequences


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad"))
    return root


def interrupt_once_training(command, cwd):
    """Run ``command``, send SIGINT once it has printed a training epoch, return (status, stderr)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=sigint_as_in_a_terminal,
    )  # fmt: skip
    try:
        for line in process.stdout:
            if line.split() and line.split()[0].isdigit():  # a row of skorch's epoch table
                process.send_signal(signal.SIGINT)
                break
        else:
            pytest.fail(f"no epoch was printed: {process.communicate()[1]}")
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr


def test_ctrl_c_during_fit_writes_no_model_and_exits_non_zero(corpus_root, tmp_path):
    model = tmp_path / "model.joblib"
    command = [
        sys.executable, "-m", "sklearn_ser.cli", "fit", "--corpus", f"synthetic:{corpus_root}",
        "--recipe", "paper-proposed", "--max-epochs", "2000", "--set", "lstm__verbose=1", "--out", str(model),
    ]  # fmt: skip
    status, stderr = interrupt_once_training(command, tmp_path)
    assert status == 130, stderr
    assert "interrupted, nothing was saved" in stderr
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_a_search_command_leaves_no_running_trial(corpus_root, tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    command = [
        sys.executable, "-m", "sklearn_ser.cli", "search", "--corpus", f"synthetic:{corpus_root}",
        "--recipe", "paper-proposed", "--max-epochs", "2000", "--set", "lstm__verbose=1", "--n-splits", "2",
        "--storage", storage, "--study", "s", "--n-trials", "3", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    status, stderr = interrupt_once_training(command, tmp_path)
    assert status == 130, stderr
    assert "the study keeps its finished trials" in stderr
    trials = optuna.load_study(study_name="s", storage=make_storage(storage)).trials
    assert [trial.state for trial in trials] == [optuna.trial.TrialState.FAIL]


def interrupting_space(trial):
    if trial.number == 1:
        os.kill(os.getpid(), signal.SIGINT)
    return {"hidden_size": trial.suggest_categorical("hidden_size", [4, 8])}


def test_an_interrupted_search_keeps_its_finished_trials_and_a_rerun_continues(tmp_path, ctrl_c_raises):
    X, y = gaussian_sequences(n=30)
    storage = f"journal:{tmp_path / 'study.log'}"
    search = OptunaSearch(
        LSTMClassifier(max_epochs=2, batch_size=8, random_state=0),
        interrupting_space,
        n_trials=3,
        cv=2,
        storage=storage,
        study_name="s",
        random_state=0,
    )
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    states = [trial.state for trial in optuna.load_study(study_name="s", storage=make_storage(storage)).trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL]
    search.set_params(search_space=lambda trial: {"hidden_size": trial.suggest_categorical("hidden_size", [4, 8])})
    search.fit(X, y)
    assert [trial.state.name for trial in search.study_.trials] == ["COMPLETE", "FAIL", "COMPLETE", "COMPLETE"]
    assert np.isfinite(search.best_score_)
