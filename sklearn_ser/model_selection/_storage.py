"""Optuna storages from the strings users write on a command line."""

from __future__ import annotations

import json
import os
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
        once. A journal whose last line was cut short (a worker killed
        while writing it) is repaired on opening, with a warning: the
        unfinished line is completed when it holds a whole JSON object and
        removed otherwise; any other damaged line is an error, and an
        existing file that is not a journal (a database, a text file) is
        refused and never written to. Any other
        string is an SQLAlchemy database URL
        (``sqlite:///study.db``, ``postgresql://user:pass@host/db``), opened
        with a heartbeat: a trial whose worker stops sending it for
        ``3 * HEARTBEAT_SECONDS`` is marked failed and queued again with the
        same parameters (up to ``RETRIES_OF_INTERRUPTED_TRIALS`` times). A
        storage object is returned unchanged.

    Returns
    -------
    storage : None or optuna.storages.BaseStorage

    Raises
    ------
    ValueError
        If ``storage`` names no storage, if ``journal:PATH`` names an
        existing file that is not an Optuna journal, or if a journal file
        has a damaged line other than its last one (the error names the
        file, the line and how to recover; the file is left untouched).

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
        return _journal_storage(path)
    if "://" not in storage:
        raise ValueError(
            f"storage={storage!r} is neither 'journal:PATH' nor a database URL such as "
            "'sqlite:///study.db' or 'postgresql://user@host/db'."
        )
    return _database_storage(storage)


def _journal_storage(path):
    """Optuna's journal storage of the file ``path``, its cut-short last line repaired, damage reported."""
    import optuna

    _check_is_journal(path)
    _repair_unfinished_last_line(path)
    try:
        return optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    except (ValueError, KeyError, TypeError) as exc:
        damage = _first_damaged_line(path)
        if damage is None:
            raise
        number, reason = damage
        raise ValueError(
            f"The Optuna journal file {path} is damaged: line {number} {reason}. Each line of the journal is one "
            f"JSON object, an operation on the studies in it. Keep a copy of the file, then repair or delete "
            f"line {number} (deleting it drops that operation, and later lines that depend on it may fail in "
            "turn), or continue in a new journal file."
        ) from exc


def _check_is_journal(path):
    """Refuse, leaving it untouched, an existing file that is not an Optuna journal, or one damaged before its end.

    A journal is lines of JSON objects, each an operation with an
    ``op_code``; only a last line cut short may be anything else (it is
    repaired afterwards). Anything else (a SQLite database, a text file, a
    mistyped name) is never written to.
    """
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return
    lines = content.split(b"\n")
    complete = lines[:-1]  # the last item is b"" after a final newline, or an unfinished line
    for number, line in enumerate(complete, start=1):
        if _is_journal_record(line):
            continue
        if number == 1:
            raise ValueError(
                f"storage='journal:{path}': {path} exists and is not an Optuna journal (its first line is not a "
                "journal record); it was left untouched. Name a new file for a new study, or the journal file of "
                "an existing one."
            )
        damage = _first_damaged_line(path)
        raise ValueError(
            f"The Optuna journal file {path} is damaged: line {number} "
            f"{damage[1] if damage else 'is not a journal record'}. It was left untouched. Keep a copy of the "
            f"file, then repair or delete line {number}, or continue in a new journal file."
        )
    if not complete and lines[-1] and not _parses_as_object(lines[-1]):
        raise ValueError(
            f"storage='journal:{path}': {path} exists and is not an Optuna journal (it holds no journal record); "
            "it was left untouched. Name a new file for a new study, or the journal file of an existing one."
        )


def _is_journal_record(line):
    """Whether ``line`` is one operation of an Optuna journal: a JSON object with an ``op_code``."""
    try:
        value = json.loads(line.rstrip(b"\r"))
    except ValueError:
        return False
    return isinstance(value, dict) and "op_code" in value


def _repair_unfinished_last_line(path):
    """Complete or remove a last line without its newline, left by a writer killed while writing it.

    Optuna skips such a line while it is the last one, but the next write
    appends to it and makes it a damaged line in the middle of the file. The
    check is made under the journal's own lock, which every writer holds
    while it writes, so a line that a live process is writing is never
    touched.
    """
    import optuna

    if not _ends_unfinished(path):
        return
    lock = optuna.storages.journal.JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        if not _ends_unfinished(path):
            return
        content = path.read_bytes()
        start = content.rfind(b"\n") + 1
        number = content.count(b"\n") + 1
        if _parses_as_object(content[start:]):
            with open(path, "ab") as file:
                file.write(b"\n")
            action = "its missing newline was added"
        else:
            with open(path, "r+b") as file:
                file.truncate(start)
            action = f"it was removed ({len(content) - start} bytes that are not a whole JSON object)"
    finally:
        lock.release()
    warnings.warn(
        f"The last line (line {number}) of the Optuna journal file {path} was cut short, as when a worker is "
        f"killed while writing it: {action}.",
        UserWarning,
        stacklevel=4,
    )


def _ends_unfinished(path):
    """Whether the file ``path`` is not empty and does not end with a newline."""
    try:
        with open(path, "rb") as file:
            if file.seek(0, os.SEEK_END) == 0:
                return False
            file.seek(-1, os.SEEK_END)
            return file.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _first_damaged_line(path):
    """(line number, what is wrong) of the first line of the journal ``path`` that is not a JSON object, or None."""
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            if not line.endswith(b"\n"):
                return number, "does not end with a newline"
            try:
                value = json.loads(line.rstrip(b"\r\n"))
            except json.JSONDecodeError as exc:
                return number, f"is not valid JSON ({exc.msg} at column {exc.colno})"
            except ValueError as exc:
                return number, f"is not valid JSON ({exc})"
            if not isinstance(value, dict):
                return number, f"is not a JSON object (it holds a {type(value).__name__})"
    return None


def _parses_as_object(line):
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


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
