"""Writing files atomically: a temporary file in the same folder, renamed over the target."""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import suppress
from pathlib import Path


def atomic_write(path, write):
    """Write ``path`` through ``write(file_object)`` so that it is whole or untouched.

    The content goes to a temporary file in the same folder, which is flushed
    to disk and replaces ``path`` only once ``write`` has returned: a failure,
    Ctrl-C or a full disk on the way leaves the old file (or none) and no
    temporary file behind. The new file gets the old file's permissions, or
    those the umask gives a new file. A symbolic link is followed: its target
    is replaced.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created if needed.
    write : callable
        Called with the temporary file, opened for binary writing.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} exists and is not a regular file; it is never replaced.")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
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


def _mode_for(path):
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_text_atomically(path, text):
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def dump_atomically(obj, path):
    """``joblib.dump(obj, path)``, written atomically (see :func:`atomic_write`)."""
    import joblib

    atomic_write(path, lambda fh: joblib.dump(obj, fh))


def check_writable(path, *, option):
    """Refuse, before any work, an output ``path`` that could not be written.

    Parameters
    ----------
    path : str or path-like
        The file a command will write once its work is done.
    option : str
        How the user named it (e.g. ``"--out"``), for the message.

    Raises
    ------
    ValueError
        If ``path`` is a folder or another non-regular file, lies under a
        file, lies in a folder whose parent does not exist either (only the
        last folder of the path is created), or its folder cannot be
        created or written to; the message names ``path`` and ``option``.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is a folder; name the file to write, e.g. {path / 'model.joblib'}.")
    _check_one_missing_level(path.parent, path, option)
    folder = _existing_ancestor(path.parent)
    if not folder.is_dir():
        raise ValueError(f"{option} {path} cannot be written: {folder} is a file, not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path} cannot be written: no permission to write in {folder}.")
    if path.exists() and not path.is_file():
        raise ValueError(f"{option} {path} exists and is not a regular file; it is never replaced.")


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
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {folder} cannot be written: no permission to write in {existing}.")


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
