"""One recorder per process, and a SIGTERM that loses nothing.

The apps call `start_recording()` once at startup: it makes the process's `Recorder` for
``DATABASE_URL`` (or `url`), starts it, and from the main thread installs the SIGTERM handler;
later calls return the same recorder. Interpreter exit closes it (the recorder's ``atexit``
hook), which flushes every queued event.

SIGTERM's default action kills the process without running ``atexit``, so
`install_signal_handlers` replaces it: the handler flushes the recorder, then hands the signal
to whatever handled it before (a framework's graceful shutdown), or, if that was the default
action, restores it and re-sends the signal, so the process still ends as killed by SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterable
from types import FrameType
from typing import Any, Final

from persistence.engine import database_url, display_url
from persistence.recorder import Recorder

__all__ = ["current_recorder", "install_signal_handlers", "start_recording"]

_logger = logging.getLogger(__name__)

SIGNAL_FLUSH_TIMEOUT_S: Final = 5.0

_lock = threading.Lock()
_recorder: Recorder | None = None


def install_signal_handlers(
    recorder: Recorder,
    signals: Iterable[signal.Signals] = (signal.SIGTERM,),
    *,
    timeout_s: float = SIGNAL_FLUSH_TIMEOUT_S,
) -> None:
    """On each of `signals`, flush `recorder` (up to `timeout_s`), then chain to the old handler.

    Must be called from the main thread (Python only lets it set signal handlers); raises
    `RuntimeError` otherwise.
    """
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("install_signal_handlers must be called from the main thread")
    for signum in signals:
        previous = signal.getsignal(signum)
        signal.signal(signum, _make_handler(recorder, previous, timeout_s))


def _make_handler(recorder: Recorder, previous: Any, timeout_s: float) -> Any:
    def handle(signum: int, frame: FrameType | None) -> None:
        stored = recorder.flush(timeout_s)
        _logger.info(
            "signal %s: recorder flushed (%s)",
            signal.Signals(signum).name,
            "all stored" if stored else "some events not stored",
        )
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:  # SIG_DFL, or a handler not installed from Python
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    return handle


def current_recorder() -> Recorder | None:
    """The process's recorder if one is running (never starts one)."""
    recorder = _recorder
    return recorder if recorder is not None and recorder.running else None


def start_recording(url: str | None = None, *, install_signals: bool = True) -> Recorder:
    """The process's recorder, started; the same one on every call while it runs.

    `url` defaults to ``DATABASE_URL``. With `install_signals`, the SIGTERM handler is
    installed when called from the main thread (elsewhere, e.g. in a Streamlit script thread,
    it is skipped: shutdown then relies on ``atexit``).
    """
    global _recorder
    with _lock:
        if _recorder is not None and _recorder.running:
            wanted = url or database_url()
            if display_url(wanted) != display_url(_recorder.engine):
                _logger.warning(
                    "start_recording(%s): already recording to %s; keeping that",
                    display_url(wanted),
                    display_url(_recorder.engine),
                )
            return _recorder
        recorder = Recorder(url)
        recorder.start()
        _recorder = recorder
    if install_signals and threading.current_thread() is threading.main_thread():
        install_signal_handlers(recorder)
    return recorder
