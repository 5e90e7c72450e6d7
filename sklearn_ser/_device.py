"""Choosing the torch device: CUDA when present, the CPU otherwise."""

import warnings


def parse_device(device):
    """``device`` as a torch.device, or a ValueError naming the parameter."""
    import torch

    try:
        return torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' or e.g. 'cuda:1'."
        ) from exc


def resolve_device(device, *, fallback=False):
    """The torch.device ``device`` stands for on this machine.

    ``"auto"`` is CUDA when a GPU is available, else the CPU. A CUDA device
    that is not available raises ValueError, or, with ``fallback`` (loading a
    pickled model), gives the CPU with a warning.
    """
    import torch

    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = parse_device(device)
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            problem = "CUDA is not available"
        elif resolved.index is not None and resolved.index >= torch.cuda.device_count():
            problem = f"only {torch.cuda.device_count()} CUDA device(s) are visible"
        else:
            return resolved
        if fallback:
            warnings.warn(f"device={device!r} but {problem}: loading on the CPU.", stacklevel=3)
            return torch.device("cpu")
        raise ValueError(f"device={device!r} but {problem}; use device='auto' or 'cpu'.")
    return resolved
