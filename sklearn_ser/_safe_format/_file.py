"""Writing and reading a safe-format file: a versioned ``torch.save`` of nodes, read with ``weights_only=True``."""

from __future__ import annotations

import os

from .._files import atomic_write
from ._checks import check_widths
from ._decode import decode
from ._encode import InexpressibleError, encode
from ._trusted import UntrustedClassError

FORMAT = "sklearn-ser-safe"
VERSION = 1


class UnsafeFileError(ValueError):
    """A file cannot be loaded as a safe-format model; the message names the file and what is wrong."""


def save_safe(model, path):
    """Write ``model`` to ``path`` in the safe format: tensors and plain values, no code.

    Parameters
    ----------
    model : estimator
        Any model whose state is made of what the format expresses (see
        :mod:`sklearn_ser.persistence`), fitted or not: every recipe's
        pipeline and every public estimator of the toolkit.
    path : str or path-like
        The file to write, atomically; an existing file is replaced only if
        it is a model file (joblib, pickle or safe format).

    Raises
    ------
    TypeError
        If a value of the model cannot be expressed (a function, a torch
        module, an object of a class outside the trusted ones); the message
        names where in the model it is and why. Nothing is written then.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.svm import SVC
    >>> from sklearn_ser.persistence import load_safe, save_safe
    >>> X, y = [[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]], ["calm", "angry", "calm", "angry"]
    >>> model = make_pipeline(StandardScaler(), SVC()).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     save_safe(model, Path(folder) / "model.pt")
    ...     loaded = load_safe(Path(folder) / "model.pt")
    >>> loaded.predict([[0.0, 1.0]]).tolist()
    ['calm']
    """
    import sklearn
    import torch

    from .. import __version__

    node = _expressed(model)
    content = {
        "format": FORMAT,
        "version": VERSION,
        "written_by": {
            "sklearn-ser": __version__,
            "scikit-learn": sklearn.__version__,
            "torch": str(torch.__version__),  # a TorchVersion, which weights_only would refuse to read
        },
        "model": node,
    }
    atomic_write(path, lambda fh: torch.save(content, fh), replaces="fitted")


def check_expressible(model):
    """Raise the TypeError of :func:`save_safe` now if ``model`` holds something the format cannot express."""
    _expressed(model)


def _expressed(model):
    try:
        return encode(model)
    except InexpressibleError as exc:
        raise InexpressibleError(f"Cannot save the model in the safe format: {exc}") from None


def _sentence(exc):
    return " ".join(str(exc).split()).rstrip(".")


def _unpickler_reason(exc):
    """The line of torch's refusal that says what the file holds (``Unsupported global: GLOBAL os.system ...``)."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        text = text.split(marker, 1)[1].split(" Please use", 1)[0]
    return " ".join(text.split()[:40]).rstrip(".")


def load_safe(path):
    """The model saved by :func:`save_safe`, rebuilt without unpickling anything but tensors and plain values.

    The file is read with ``torch.load(weights_only=True)``, which refuses
    any object but tensors and plain containers. The model is then built
    from its description: only trusted classes (the toolkit's estimators and
    the scikit-learn, skorch and transformers classes their state holds) are
    imported and built, from their parameters, and given their fitted state;
    torch networks are rebuilt by their estimators from the stored weights.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_safe` (``sklearn-ser fit --format safe``).

    Returns
    -------
    model : estimator

    Raises
    ------
    ValueError
        An ``UnsafeFileError`` naming the file and what is wrong: not a
        safe-format file, one whose reading would need code (a pickled
        object), another format version, a class outside the trusted ones,
        a damaged entry (where in the model it is), or arrays whose shapes
        do not agree with the model's.
    ImportError
        If the model needs an optional package that is not installed
        (e.g. transformers), naming it.
    """
    import torch

    path = os.fspath(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only's unpickler raises what a damaged stream leads it to (even a KeyError)
        reason = _unpickler_reason(exc)
        raise UnsafeFileError(
            f"Cannot read '{path}' as a safe-format model: reading it would need more than tensors and plain values "
            f"(it may hold code), or it is damaged ({type(exc).__name__}: {reason})."
        ) from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise UnsafeFileError(
            f"'{path}' is not a safe-format model file (written by sklearn_ser.persistence.save_safe)."
        )
    if content.get("version") != VERSION:
        raise UnsafeFileError(
            f"'{path}' is in version {content.get('version')!r} of the safe format; this sklearn-ser reads version "
            f"{VERSION}."
        )
    if "model" not in content:
        raise UnsafeFileError(f"'{path}' is damaged: it holds no model.")
    try:
        model = decode(content["model"])
        check_widths(model)
    except UntrustedClassError as exc:
        raise UnsafeFileError(f"'{path}' is refused: {_sentence(exc)}.") from None
    except ValueError as exc:  # a damaged node, or widths that disagree
        raise UnsafeFileError(f"'{path}' is damaged: {_sentence(exc)}.") from exc
    except (TypeError, KeyError, AttributeError, IndexError, RuntimeError) as exc:
        # what a trusted class raises on a state it was not written with
        raise UnsafeFileError(f"'{path}' is damaged: {type(exc).__name__}: {_sentence(exc)}.") from exc
    return model
