"""Long recordings: the emotion of every window, over time.

:func:`predict_timeline` runs a fitted pipeline over a recording of any
length, window by window, in bounded memory, skipping the windows without
speech; :func:`window_clips` cuts labelled clips into the same windows, to
fit a model on them; :func:`timeline_agreement` compares a timeline with
reference labels; :func:`speech_segments` marks speech and pauses at the
voice activity detector's own resolution; :func:`sklearn_ser.plotting.plot_timeline` draws the
result.
"""

from ._clips import window_clips
from ._reference import timeline_agreement
from ._speech_segments import speech_segments
from ._timeline import predict_timeline

__all__ = ["predict_timeline", "speech_segments", "timeline_agreement", "window_clips"]
