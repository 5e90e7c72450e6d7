"""Several search workers on one study: journal file, killed workers, PostgreSQL."""

import glob
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import optuna
import pytest
from optuna.storages._heartbeat import is_heartbeat_enabled

from sklearn_ser.datasets import make_synthetic_corpus
from sklearn_ser.model_selection import _storage, make_storage

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)

# A worker whose trials take a while (so that two workers overlap), on
# random sequences: the storage and the study name come from argv.
SLOW_WORKER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC
    from sklearn_ser.features import SequencePooling
    from sklearn_ser.model_selection import OptunaSearch

    def space(trial):
        time.sleep(0.3)
        return {"svc__C": trial.suggest_float("svc__C", 0.01, 100, log=True)}

    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    X = [rng.normal(label, size=(10, 3)) for label in y]
    OptunaSearch(make_pipeline(SequencePooling(), SVC()), space, n_trials=int(sys.argv[3]), cv=2,
                 storage=sys.argv[1], study_name=sys.argv[2], refit=False).fit(X, y)
    """
)


# A worker whose trials draw their parameter, then sleep argv[4] seconds, with
# a heartbeat every second: a trial of a killed worker is stale after 3 s.
HEARTBEAT_WORKER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import SVC
    from sklearn_ser.features import SequencePooling
    from sklearn_ser.model_selection import OptunaSearch, _storage

    _storage.HEARTBEAT_SECONDS = 1

    def space(trial):
        params = {"svc__C": trial.suggest_float("svc__C", 0.01, 100, log=True)}
        if getattr(getattr(trial, "study", None), "study_name", None) == sys.argv[2]:  # a trial of the study
            time.sleep(float(sys.argv[4]))
        return params

    rng = np.random.default_rng(0)
    y = np.arange(20) % 2
    X = [rng.normal(label, size=(10, 3)) for label in y]
    OptunaSearch(make_pipeline(SequencePooling(), SVC()), space, n_trials=int(sys.argv[3]), cv=2,
                 storage=sys.argv[1], study_name=sys.argv[2], refit=False).fit(X, y)
    """
)


@pytest.fixture(scope="module")
def corpus_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    make_synthetic_corpus(root, n_speakers=2, n_words=2, emotions=("angry", "sad", "neutral"))
    return root


def search_command(corpus_root, storage, study, n_trials, cache_dir, *extra):
    return [
        sys.executable, "-m", "sklearn_ser.cli", "search",
        "--corpus", f"synthetic:{corpus_root}", "--recipe", "svm-mfcc",
        "--storage", storage, "--study", study, "--n-trials", str(n_trials),
        "--cache-dir", str(cache_dir), *extra,
    ]  # fmt: skip


def finished_trials(storage, study):
    """The study's finished trials; none while a worker has created the journal but not yet the study."""
    try:
        loaded = optuna.load_study(study_name=study, storage=make_storage(storage))
    except KeyError:
        return []
    return loaded.get_trials(states=FINISHED)


def run_workers(commands, timeout=240):
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for command in commands]
    outputs = [worker.communicate(timeout=timeout)[0].decode() for worker in workers]
    for worker, output in zip(workers, outputs):
        assert worker.returncode == 0, output
    return outputs


def test_two_processes_share_one_journal_file(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    script = [sys.executable, "-c", SLOW_WORKER, storage, "shared", "12"]
    run_workers([script, script])
    trials = finished_trials(storage, "shared")
    assert 12 <= len(trials) <= 13  # the last trials of both workers may start together
    assert len({trial.user_attrs["worker"] for trial in trials}) == 2
    assert len({trial.number for trial in trials}) == len(trials)


def test_cli_workers_share_a_study_and_a_rerun_continues_it(corpus_root, tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    command = search_command(corpus_root, storage, "cli", 6, tmp_path / "cache")
    outputs = run_workers([command, command])
    assert all("Best balanced_accuracy" in output for output in outputs)
    first = finished_trials(storage, "cli")
    assert 6 <= len(first) <= 7
    out = tmp_path / "best.joblib"
    run_workers(
        [
            search_command(
                corpus_root,
                storage,
                "cli",
                len(first) + 2,
                tmp_path / "cache",
                "--out",
                str(out),
                "--plots",
                str(tmp_path / "plots"),
            )
        ]
    )
    second = finished_trials(storage, "cli")
    assert len(second) == len(first) + 2
    assert [(t.number, t.value, t.params) for t in second[: len(first)]] == [
        (t.number, t.value, t.params) for t in first
    ]
    assert out.is_file()
    assert {path.name for path in (tmp_path / "plots").iterdir()} >= {"search_history.png", "search_importances.png"}


def test_a_killed_worker_loses_no_finished_trial(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    worker = subprocess.Popen([sys.executable, "-c", SLOW_WORKER, storage, "killed", "100"])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (tmp_path / "study.log").exists() and len(finished_trials(storage, "killed")) >= 3:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the worker finished no trial in 120 s")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    before = finished_trials(storage, "killed")
    run_workers([[sys.executable, "-c", SLOW_WORKER, storage, "killed", str(len(before) + 2)]])
    after = finished_trials(storage, "killed")
    assert len(after) == len(before) + 2
    assert [(t.number, t.value) for t in after[: len(before)]] == [(t.number, t.value) for t in before]


def trials_in(storage, study, *states):
    try:
        loaded = optuna.load_study(study_name=study, storage=make_storage(storage))
    except KeyError:
        return []
    return loaded.get_trials(states=states or None)


def test_the_trial_of_a_killed_worker_is_failed_and_retried_by_a_rerun(tmp_path):
    storage = f"journal:{tmp_path / 'study.log'}"
    worker = subprocess.Popen([sys.executable, "-c", HEARTBEAT_WORKER, storage, "stale", "3", "600"])
    try:
        deadline = time.monotonic() + 120
        while not trials_in(storage, "stale", optuna.trial.TrialState.RUNNING):
            if time.monotonic() > deadline:
                pytest.fail("the worker started no trial in 120 s")
            time.sleep(0.2)
        time.sleep(1.5)  # a heartbeat or two
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    [killed] = trials_in(storage, "stale", optuna.trial.TrialState.RUNNING)
    time.sleep(3.5)  # the grace period (3 heartbeats) passes
    run_workers([[sys.executable, "-c", HEARTBEAT_WORKER, storage, "stale", "3", "0"]])
    trials = trials_in(storage, "stale")
    assert trials[killed.number].state == optuna.trial.TrialState.FAIL
    assert len([trial for trial in trials if trial.state in FINISHED]) == 3
    assert all(trial.state.is_finished() for trial in trials)  # nothing left running or waiting
    [retry] = [trial for trial in trials if trial.system_attrs.get("failed_trial") == killed.number]
    assert retry.state == optuna.trial.TrialState.COMPLETE and retry.params == killed.params


def test_a_running_trial_that_sends_its_heartbeat_is_never_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(_storage, "HEARTBEAT_SECONDS", 1)
    path = tmp_path / "study.log"
    study = optuna.create_study(storage=make_storage(f"journal:{path}"), study_name="alive", direction="maximize")
    other = optuna.load_study(study_name="alive", storage=make_storage(f"journal:{path}"))  # another worker

    def objective(trial):
        time.sleep(4)  # longer than the grace period, 3 s
        optuna.storages.fail_stale_trials(other)
        return 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.optimize(objective, n_trials=1)
    assert [trial.state for trial in other.trials] == [optuna.trial.TrialState.COMPLETE]
    beats = [line for line in path.read_text().splitlines() if _storage.HEARTBEAT_ATTR in line]
    assert len(beats) >= 4


def test_a_journal_storage_with_a_heartbeat_pickles_in_a_fresh_process(tmp_path, monkeypatch):
    storage = make_storage(f"journal:{tmp_path / 'study.log'}")
    data = pickle.dumps(storage)
    monkeypatch.delitem(vars(_storage), "HeartbeatJournalStorage")  # as in a process that has not made one
    copy = pickle.loads(data)
    assert is_heartbeat_enabled(copy) and copy.get_heartbeat_interval() == _storage.HEARTBEAT_SECONDS
    assert copy.get_all_studies() == []


def _postgres_bin(name):
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server on loopback in a temporary folder, stopped afterwards."""
    initdb, pg_ctl = _postgres_bin("initdb"), _postgres_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found")
    as_user = []
    folder = Path(tempfile.mkdtemp(prefix="sklearn-ser-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd

        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server")
        os.chown(folder, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", _free_port()
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust"], check=True,
                   capture_output=True)  # fmt: skip
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run([*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def test_cli_workers_share_a_study_in_postgresql(corpus_root, tmp_path, postgres_url):
    command = search_command(corpus_root, postgres_url, "pg", 6, tmp_path / "cache")
    run_workers([command, command])
    trials = finished_trials(postgres_url, "pg")
    assert 6 <= len(trials) <= 7
    assert all(trial.value is not None for trial in trials)
