"""Optuna storages from the strings users write on a command line."""

from __future__ import annotations

import json
import os
import re
import time
import warnings
from pathlib import Path

JOURNAL_PREFIX = "journal:"
HEARTBEAT_SECONDS = 60
RETRIES_OF_INTERRUPTED_TRIALS = 2
CONNECT_TIMEOUT_SECONDS = 10
HEARTBEAT_ATTR = "sklearn_ser:heartbeat"


def make_storage(storage):
    """The Optuna storage that ``storage`` names.

    Parameters
    ----------
    storage : None, str or optuna.storages.BaseStorage
        None keeps the study in memory. ``"journal:PATH"`` is Optuna's
        journal file storage at ``PATH``, which several processes on one
        machine (or on a shared file system with working locks) may write at
        once. Its running trials record a heartbeat in the journal, as the
        database storages below do. A journal whose last line was cut short (a worker killed
        while writing it) is repaired on opening, with a warning: the
        unfinished line is completed when it holds a whole JSON object and
        removed otherwise; any other damaged line is an error, and an
        existing file that is not a journal (a database, a text file) is
        refused and never written to. Any other
        string is an SQLAlchemy database URL
        (``sqlite:///study.db``, ``postgresql://user:pass@host/db``), opened
        with a heartbeat, and connected to at once, so that an unusable one
        is reported here (a PostgreSQL or MySQL server that does not answer
        within ``CONNECT_TIMEOUT_SECONDS``, unless the URL sets its own
        ``connect_timeout``). With either storage, a trial whose worker
        stops sending its heartbeat (every ``HEARTBEAT_SECONDS``) for
        ``3 * HEARTBEAT_SECONDS`` is marked failed by the next worker that
        starts a trial, and queued again with the same parameters (up to
        ``RETRIES_OF_INTERRUPTED_TRIALS`` times). The machines that share a
        journal need clocks that agree within that grace period. A storage
        object is returned unchanged.

    Returns
    -------
    storage : None or optuna.storages.BaseStorage

    Raises
    ------
    ValueError
        If ``storage`` names no storage, if ``journal:PATH`` names an
        existing file that is not an Optuna journal, or if a journal file
        has a damaged line other than its last one (the error names the
        file, the line and how to recover; the file is left untouched); if
        a database URL cannot be parsed, names a database or driver that
        SQLAlchemy does not know or whose driver is not installed, or names
        a database of an older Optuna.
    OSError
        If the database of a URL cannot be opened or connected to (a
        SQLite file in a missing folder, a server that refuses or does not
        answer). Each error names the storage, its password hidden.

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
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        retry = optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES_OF_INTERRUPTED_TRIALS)
    try:
        return _heartbeat_journal_storage_class()(
            optuna.storages.journal.JournalFileBackend(str(path)),
            heartbeat_interval=HEARTBEAT_SECONDS,
            grace_period=3 * HEARTBEAT_SECONDS,
            heartbeat_stale_trial_callback=retry,
        )
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


def _heartbeat_journal_storage_class():
    """The class ``HeartbeatJournalStorage``, defined on first use so that importing this module imports no Optuna."""
    cls = globals().get("HeartbeatJournalStorage")
    if cls is None:
        cls = globals()["HeartbeatJournalStorage"] = _define_heartbeat_journal_storage()
    return cls


def __getattr__(name):
    # pickle finds the class of a journal storage here by its name, in a process that has not used one yet
    if name == "HeartbeatJournalStorage":
        return _heartbeat_journal_storage_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _define_heartbeat_journal_storage():
    import optuna
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.storages._heartbeat import BaseHeartbeat

    class HeartbeatJournalStorage(optuna.storages.JournalStorage, BaseHeartbeat):
        """Optuna's journal storage with the heartbeat of its database storage.

        While a worker runs a trial, ``study.optimize`` records its
        heartbeat every ``heartbeat_interval`` seconds: the time
        (``time.time()``) in the trial's system attribute ``HEARTBEAT_ATTR``,
        a line of the journal. A running trial that has a heartbeat and
        whose latest heartbeat, or start if later (a trial queued again
        keeps the attributes of the failed one), is more than
        ``grace_period`` seconds old is stale: the next worker to start a
        trial marks it failed and calls ``heartbeat_stale_trial_callback``
        with it. Running trials without a heartbeat (of a journal written
        before this heartbeat, or run outside ``study.optimize``) are left
        alone, as the database storage leaves them.
        """

        def __init__(self, log_storage, *, heartbeat_interval, grace_period=None, heartbeat_stale_trial_callback=None):
            if heartbeat_interval <= 0 or (grace_period is not None and grace_period <= 0):
                raise ValueError(
                    f"heartbeat_interval and grace_period must be positive, got {heartbeat_interval} and "
                    f"{grace_period}."
                )
            self.heartbeat_interval = heartbeat_interval
            self.grace_period = 2 * heartbeat_interval if grace_period is None else grace_period
            self.heartbeat_stale_trial_callback = heartbeat_stale_trial_callback
            super().__init__(log_storage)

        def record_heartbeat(self, trial_id):
            try:
                self.set_trial_system_attr(trial_id, HEARTBEAT_ATTR, time.time())
            except UpdateFinishedTrialError:
                pass  # another worker found the trial stale meanwhile; its end is recorded by this one as usual

        def _get_stale_trial_ids(self, study_id):
            now = time.time()
            stale = []
            running = self.get_all_trials(study_id, deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            for trial in running:
                beat = trial.system_attrs.get(HEARTBEAT_ATTR)
                if not isinstance(beat, (int, float)):
                    continue
                if trial.datetime_start is not None:  # naive local time, as the journal replays it
                    beat = max(beat, trial.datetime_start.timestamp())
                if now - beat > self.grace_period:
                    stale.append(trial._trial_id)
            return stale

        def get_heartbeat_interval(self):
            return self.heartbeat_interval

        def get_heartbeat_stale_trial_callback(self):
            return self.heartbeat_stale_trial_callback

    HeartbeatJournalStorage.__qualname__ = "HeartbeatJournalStorage"
    return HeartbeatJournalStorage


def _database_storage(url, attempts=3):
    """An RDBStorage with a heartbeat, connected to; retried when another worker creates the tables at that moment.

    A URL that cannot be used raises a ValueError or OSError of one line
    naming it (its password hidden), never SQLAlchemy's own error.
    """
    import optuna
    import sqlalchemy.exc

    named = f"storage={password_hidden(url)!r} cannot be used"
    engine_kwargs = _engine_kwargs(url, named)
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
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
        except sqlalchemy.exc.DBAPIError as exc:
            raise OSError(f"{named}: {_why_not_opened(url, exc)}") from exc
        except ImportError as exc:
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            raise ValueError(
                f"{named}: the Python package of its database driver is not installed ({_one_line(cause)}). "
                f"Install it, or name an installed driver in the URL ('{_backend(url)}+DRIVER://...')."
            ) from exc
        except RuntimeError as exc:  # a database of another Optuna version
            raise ValueError(f"{named}: {_one_line(exc)}") from exc
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise ValueError(f"{named}: {_one_line(exc)}") from exc


def _engine_kwargs(url, named):
    """SQLAlchemy engine options for ``url``: a connect timeout for database servers; its errors, one line each."""
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError) as exc:
        raise ValueError(f"{named}: it is not a valid database URL ({_one_line(exc)}).") from exc
    try:
        parsed.get_dialect()
    except sqlalchemy.exc.NoSuchModuleError as exc:
        backend = parsed.get_backend_name()
        try:
            make_url(f"{backend}://").get_dialect()
        except sqlalchemy.exc.NoSuchModuleError:
            unknown = f"no database {backend!r}"
        else:
            unknown = f"no driver {parsed.get_driver_name()!r} for {backend}"
        raise ValueError(
            f"{named}: SQLAlchemy knows {unknown}. A database URL starts with a known database and optionally "
            "driver, as 'sqlite:///study.db', 'postgresql://user@host/db' or 'mysql+pymysql://user@host/db'; a "
            "journal file is 'journal:PATH'."
        ) from exc
    timeout_drivers = {"postgresql": ("psycopg", "psycopg2"), "mysql": ("mysqldb", "pymysql")}
    if parsed.get_driver_name() in timeout_drivers.get(parsed.get_backend_name(), ()):
        if "connect_timeout" not in parsed.query:
            return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS}}
    return {}


def _why_not_opened(url, exc):
    """One line on why the database of ``url`` could not be opened, from SQLAlchemy's DBAPIError ``exc``."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        folder = Path(parsed.database).expanduser().parent
        if not folder.is_dir():
            return f"the folder {folder} of its SQLite database file does not exist."
        return f"the SQLite database {parsed.database} cannot be opened ({_one_line(exc.orig)})."
    return f"cannot connect to its database ({_one_line(exc.orig)})."


def _backend(url):
    from sqlalchemy.engine import make_url

    return make_url(url).get_backend_name()


def _one_line(exc):
    return " ".join(str(exc).split()).rstrip(".")


def password_hidden(url):
    """``url`` with the password of its ``user:password@`` part, if any, replaced by ``***``."""
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


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
