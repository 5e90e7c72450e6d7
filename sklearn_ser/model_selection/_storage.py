"""Optuna storages from the strings users write on a command line."""

from __future__ import annotations

import time
import warnings
from pathlib import Path

JOURNAL_PREFIX = "journal:"
HEARTBEAT_SECONDS = 60
RETRIES_OF_INTERRUPTED_TRIALS = 2


def make_storage(storage):
    """The Optuna storage that ``storage`` names.

    Parameters
    ----------
    storage : None, str or optuna.storages.BaseStorage
        None keeps the study in memory. ``"journal:PATH"`` is Optuna's
        journal file storage at ``PATH``, which several processes on one
        machine (or on a shared file system with working locks) may write at
        once. Any other string is an SQLAlchemy database URL
        (``sqlite:///study.db``, ``postgresql://user:pass@host/db``), opened
        with a heartbeat: a trial whose worker stops sending it for
        ``3 * HEARTBEAT_SECONDS`` is marked failed and queued again with the
        same parameters (up to ``RETRIES_OF_INTERRUPTED_TRIALS`` times). A
        storage object is returned unchanged.

    Returns
    -------
    storage : None or optuna.storages.BaseStorage

    Examples
    --------
    >>> from sklearn_ser.model_selection import make_storage
    >>> make_storage(None) is None
    True
    >>> type(make_storage("sqlite:///:memory:")).__name__
    'RDBStorage'
    """
    import optuna

    if storage is None or isinstance(storage, optuna.storages.BaseStorage):
        return storage
    if not isinstance(storage, str):
        raise TypeError(f"storage must be None, a string or an Optuna storage, got {type(storage).__name__}.")
    if storage.startswith(JOURNAL_PREFIX):
        path = storage[len(JOURNAL_PREFIX) :]
        if not path:
            raise ValueError("storage='journal:' needs a file path, e.g. 'journal:./study.log'.")
        path = Path(path).expanduser()
        if path.is_dir():
            raise ValueError(f"storage={storage!r}: {path} is a directory; the journal storage needs a file path.")
        path.parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    if "://" not in storage:
        raise ValueError(
            f"storage={storage!r} is neither 'journal:PATH' nor a database URL such as "
            "'sqlite:///study.db' or 'postgresql://user@host/db'."
        )
    return _database_storage(storage)


def _database_storage(url, attempts=3):
    """An RDBStorage with a heartbeat; retried when another worker creates the tables at the same moment."""
    import optuna
    import sqlalchemy.exc

    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=3 * HEARTBEAT_SECONDS,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=RETRIES_OF_INTERRUPTED_TRIALS
                    ),
                )
        except sqlalchemy.exc.IntegrityError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))


def in_memory_copy(study):
    """A copy of ``study`` (trials, attributes, direction) in memory.

    Parameters
    ----------
    study : optuna.Study

    Returns
    -------
    copy : optuna.Study
    """
    import optuna

    if isinstance(study._storage, optuna.storages.InMemoryStorage):
        return study
    copy = optuna.create_study(
        study_name=study.study_name,
        directions=study.directions,
        sampler=study.sampler,
        pruner=study.pruner,
    )
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials(study.trials)
    return copy
