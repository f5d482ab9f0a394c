"""A clean stop on SIGTERM and SIGINT: while a sender works, the signal asks it to stop.

The sender then takes no new recipient, lets the letters in flight finish (each within
EMAIL_TIMEOUT), records them, and leaves its run open with its lease released, so the next
sender takes it over at once instead of after SENDING_LEASE_SECONDS. The process then ends
normally: exit status 0, no traceback. A handler that was there before (a task worker's, a
scheduler's) is still told, so that it too stops after the current piece of work.
"""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_requested = threading.Event()
_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def shutdown_requested() -> bool:
    """Whether this process was asked to stop (SIGTERM or SIGINT while sending)."""
    return _requested.is_set()


@contextmanager
def shutdown_on_signals() -> Iterator[None]:
    """While inside, SIGTERM and SIGINT ask the senders of this process to stop cleanly.

    Only the main thread can handle signals; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.getsignal(number) for number in _SIGNALS}

    def handler(number: int, frame) -> None:
        first = not _requested.is_set()
        _requested.set()
        earlier = previous[number]
        # Python's own SIGINT handler raises KeyboardInterrupt, the traceback this avoids.
        if first and callable(earlier) and earlier is not signal.default_int_handler:
            earlier(number, frame)

    for number in _SIGNALS:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number, earlier in previous.items():
            signal.signal(number, earlier)


def shutdown_forget() -> None:
    """Forget a stop asked earlier (tests that send again in the same process)."""
    _requested.clear()
