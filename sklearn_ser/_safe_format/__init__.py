"""The safe format: a fitted model as tensors and plain values, rebuilt from trusted classes only.

See :mod:`sklearn_ser.persistence` for what it holds and how to use it.
"""

from .._file_kinds import is_safe_model_head as is_safe_head
from ._file import FORMAT, VERSION, UnsafeFileError, check_expressible, load_safe, save_safe

__all__ = [
    "FORMAT",
    "VERSION",
    "UnsafeFileError",
    "check_expressible",
    "is_safe_head",
    "load_safe",
    "save_safe",
]
