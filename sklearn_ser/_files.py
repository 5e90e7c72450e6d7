"""Writing files atomically: a temporary file in the same folder, renamed over the target."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path


def atomic_write(path, write):
    """Write ``path`` through ``write(file_object)`` so that it is whole or untouched.

    The content goes to a temporary file in the same folder, which replaces
    ``path`` only once ``write`` has returned and the file is closed: a
    failure, Ctrl-C or a full disk on the way leaves the old file (or none)
    and no temporary file behind.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created if needed.
    write : callable
        Called with the temporary file, opened for binary writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def dump_atomically(obj, path):
    """``joblib.dump(obj, path)``, written atomically (see :func:`atomic_write`)."""
    import joblib

    atomic_write(path, lambda fh: joblib.dump(obj, fh))
