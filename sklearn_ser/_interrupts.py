"""Telling a user's Ctrl-C from a ``KeyboardInterrupt`` raised to stop training.

skorch's callbacks (``EarlyStopping`` among them) raise ``KeyboardInterrupt``
to end training early, and skorch's own loop swallows every one, Ctrl-C
included. The toolkit's loops must stop when a callback asks and re-raise
when the user does; only the signal tells the two apart.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class InterruptRecord:
    """Whether SIGINT arrived while :func:`recording_interrupts` was active."""

    def __init__(self):
        self.received = False


@contextmanager
def recording_interrupts():
    """Record SIGINT while passing it on to the handler that was installed.

    Yields
    ------
    record : InterruptRecord
        ``record.received`` is True once a SIGINT arrived. Outside the main
        thread no signal can arrive, and nothing is installed.
    """
    record = InterruptRecord()
    if threading.current_thread() is not threading.main_thread():
        yield record
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        record.received = True
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    try:
        yield record
    finally:
        signal.signal(signal.SIGINT, previous)
