"""What a model was trained on, as far as timelines care: how long its training clips (or windows) were.

``sklearn-ser fit`` records it on the fitted pipeline; :func:`predict_timeline`
warns when its windows are much shorter, since a model sees shorter windows
as audio unlike anything it learned from.
"""

from __future__ import annotations

import warnings

import numpy as np

#: The attribute of a fitted model holding ``{"clip_seconds": ..., "window": ..., "hop": ..., "recipe": ...}``.
TRAINED_ON = "sklearn_ser_trained_on_"

#: A timeline window below this fraction of the training clips' median length gets a warning.
SHORTER_THAN = 0.75


def record_trained_on(model, clip_seconds, *, window=None, hop=None, recipe=None):
    """Store on ``model`` its recipe and the median length of its training clips (or windows of ``window`` s)."""
    setattr(
        model,
        TRAINED_ON,
        {"clip_seconds": float(np.median(clip_seconds)), "window": window, "hop": hop, "recipe": recipe},
    )
    return model


def check_window_against_training(model, window):
    """Warn when ``window`` is well below the length of what ``model`` was trained on."""
    trained_on = getattr(model, TRAINED_ON, None)
    if not trained_on or not window < SHORTER_THAN * trained_on["clip_seconds"]:  # NaN: nothing known
        return
    what = (
        f"windows of {trained_on['window']:g} s"
        if trained_on.get("window")
        else f"clips of {trained_on['clip_seconds']:.1f} s (median)"
    )
    warnings.warn(
        f"The model was trained on {what}; windows of {window:g} s are much shorter, and it classifies them far "
        f"worse than what it learned from. Train it on windows of the timeline's length ('sklearn-ser fit "
        f"--window {window:g}', or window_clips in Python), or use windows of about "
        f"{trained_on['clip_seconds']:.1f} s.",
        UserWarning,
        stacklevel=3,
    )
