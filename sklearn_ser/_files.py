"""Writing files atomically: a temporary file in the same folder, renamed over the target."""

from __future__ import annotations

import os
import re
import stat
import tempfile
import time
from contextlib import suppress
from pathlib import Path

from ._file_kinds import check_replaceable

try:
    import fcntl
except ImportError:  # not POSIX: a temporary file is judged stale by its age alone
    fcntl = None

# A temporary file of atomic_write: ".NAME." + tempfile's 8 random characters + ".tmp".
_TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
# A temporary file untouched this long, and locked by no process, was left by a writer that was killed.
STALE_SECONDS = 60 if fcntl is not None else 24 * 3600


def atomic_write(path, write, *, replaces=None):
    """Write ``path`` through ``write(file_object)`` so that it is whole or untouched.

    The content goes to a temporary file in the same folder, which is flushed
    to disk and replaces ``path`` only once ``write`` has returned: a failure,
    Ctrl-C or a full disk on the way leaves the old file (or none) and no
    temporary file behind. The new file gets the old file's permissions, or
    those the umask gives a new file. A symbolic link is followed: its target
    is replaced. The temporary files that killed writers left in the folder
    (named as this function names them, locked by no process and older than
    :data:`STALE_SECONDS`) are removed; no other file is.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created if needed.
    write : callable
        Called with the temporary file, opened for binary writing.
    replaces : str, optional
        The kind of file written (see :data:`sklearn_ser._file_kinds.KINDS`):
        an existing file at ``path`` of another kind is refused, untouched.

    Raises
    ------
    ValueError
        If ``path`` is a folder or another non-regular file, or an existing
        file of another kind than ``replaces``.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} exists and is not a regular file; it is never replaced.")
    if replaces is not None:
        check_replaceable(path, replaces)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released when the writer closes it or dies: then it is stale
        _remove_stale_temporaries(path.parent)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _remove_stale_temporaries(folder):
    """Remove the temporary files of :func:`atomic_write` in ``folder`` whose writer is gone."""
    now = time.time()
    with suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if _TEMPORARY_NAME.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
                with suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS and _unlocked(entry.path):
                        os.unlink(entry.path)


def _unlocked(path):
    """Whether no process holds the lock of the temporary file at ``path`` (its writer is gone)."""
    if fcntl is None:
        return True
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _mode_for(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomically(path, text, *, replaces):
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")), replaces=replaces)


def dump_atomically(obj, path):
    """``joblib.dump(obj, path)``, written atomically (see :func:`atomic_write`); only a model file is replaced."""
    import joblib

    atomic_write(path, lambda fh: joblib.dump(obj, fh), replaces="model")


def check_writable(path, *, option, kind=None):
    """Refuse, before any work, an output ``path`` that could not be written.

    Writability is tried, not guessed: a temporary file is created in the
    nearest existing folder and removed again.

    Parameters
    ----------
    path : str or path-like
        The file a command will write once its work is done.
    option : str
        How the user named it (e.g. ``"--out"``), for the message.
    kind : str, optional
        The kind of file that will be written (see
        :data:`sklearn_ser._file_kinds.KINDS`): an existing file of another
        kind is refused. A ``"figure"`` must name a format Matplotlib writes.

    Raises
    ------
    ValueError
        If ``path`` is a folder or another non-regular file, lies under a
        file, lies in a folder whose parent does not exist either (only the
        last folder of the path is created), its folder cannot be created or
        written to, it is an existing file of another kind, or a figure's
        format is unknown; the message names ``path`` and ``option``.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; name the file to write, e.g. {path / 'model.joblib'}.")
    if kind == "figure":
        _check_figure_format(path, option)
    _check_one_missing_level(path.parent, path, option)
    folder = _existing_ancestor(path.parent)
    if not folder.is_dir():
        raise ValueError(f"{option} {path} cannot be written: {folder} is a file, not a folder.")
    if path.exists() and not path.is_file():
        raise ValueError(f"{option} {path} exists and is not a regular file; it is never replaced.")
    if kind is not None:
        check_replaceable(path, kind, option=option)
    _try_writing_in(folder, path, option)


def _try_writing_in(folder, path, option):
    """Create and remove a temporary file in ``folder``, as the write will: refused here rather than after the work."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".sklearn-ser-check.", suffix=".tmp")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ValueError(f"{option} {path} cannot be written: {reason} in {folder}.") from None
    os.close(fd)
    os.unlink(tmp)


def _check_figure_format(path, option):
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix[1:].lower()
    if suffix and suffix not in formats:
        raise ValueError(
            f"{option} {path}: Matplotlib cannot write .{suffix} images; name a file ending in one of "
            f"{', '.join('.' + name for name in sorted(formats))}."
        )


def check_writable_folder(folder, *, option):
    """Refuse, before any work, an output ``folder`` that could not be created or written to.

    Raises
    ------
    ValueError
        If ``folder`` or one of its parents is a file, its parent does not
        exist either (only ``folder`` itself is created), or the user may
        not write in the nearest existing one; the message names ``option``.
    """
    folder = Path(folder)
    _check_one_missing_level(folder, folder, option)
    existing = _existing_ancestor(folder)
    if not existing.is_dir():
        raise ValueError(f"{option} {folder} cannot be a folder: {existing} is a file.")
    _try_writing_in(existing, folder, option)


def _check_one_missing_level(folder, path, option):
    """Refuse ``folder`` when its parent is missing too: a mistyped path would create a tree of folders."""
    parent = folder.parent
    if not folder.exists() and not parent.exists() and _existing_ancestor(parent).is_dir():
        raise ValueError(
            f"{option} {path}: the folder {parent} does not exist. Only the last folder of an output path is "
            "created; create the others first, or check the path for a typo."
        )


def _existing_ancestor(folder):
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
